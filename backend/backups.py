"""`picdrop-server backup` and `restore`: the catalog to a file and back, takedowns kept.

A restore replaces the catalog with an older state. Two things must not go back with it:
takedowns and blocks made since the backup (a removed image would be served again and its
content accepted again), and the bucket's blobs the restored catalog does not know (uploads made
since: the orphan sweep would delete them before anyone looked). So a restore reads the takedown
log of the catalog it replaces and re-applies what the backup lacks, and holds the orphan sweep
until an operator releases it (`picdrop-server sweep --release`).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path

from backend.assembly import build
from backend.catalog import Catalog
from backend.catalog.backup import BackupInfo, hold_sweep, load_backup, write_backup
from backend.catalog.moderation import ModerationCatalog, TakedownEntry
from backend.settings import Settings

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Restored:
    backup: BackupInfo
    carried: int  # takedown log entries read from the catalog that was replaced
    reapplied: int  # of those, the ones the backup lacked


def backup(settings: Settings, path: Path) -> BackupInfo:
    backend = build(settings, migrate=True)
    try:
        return write_backup(backend.catalog, path)
    finally:
        backend.close()


def restore(settings: Settings, path: Path) -> Restored:
    catalog = Catalog(settings.resolved_database_url)
    try:
        carried = _takedown_log(catalog)
        info = load_backup(catalog, path)
        taken = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(info.taken_at))
        hold_sweep(catalog, f"the catalog was restored from a backup taken {taken}")
        backend = build(settings, catalog=catalog)
        return Restored(info, len(carried), backend.moderation.reapply(carried))
    finally:
        catalog.close()


def _takedown_log(catalog: Catalog) -> list[TakedownEntry]:
    """The takedown log of the catalog about to be replaced; none when it has none (empty, lost,
    or older than the log)."""
    try:
        return ModerationCatalog(catalog).takedown_log()
    except Exception as exc:  # no table, no database: nothing to carry over
        log.warning("the catalog being replaced has no takedown log to carry over (%s)", exc)
        return []
