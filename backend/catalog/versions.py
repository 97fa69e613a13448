"""The catalog's schema versions (Alembic revisions): upgrade or downgrade to one, and refuse a
schema newer than this release knows instead of failing on it somewhere later.

Alembic is imported by the functions that use it, so that a process that never migrates (the
supervisor of `serve --processes N`, which has a process of its own do it) does not keep it in
its memory (~10 MB) for as long as it runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from sqlalchemy import Connection

MIGRATIONS = Path(__file__).parent / "migrations"


class SchemaTooNew(RuntimeError):
    """The database was migrated by a newer release."""


class UnknownRevision(ValueError):
    """A revision this release does not have."""


def _config(conn: Connection | None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    return config


def _scripts(config: Config | None = None) -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(config or _config(None))


def head() -> str:
    return _scripts().get_current_head()


def current(conn: Connection) -> str | None:
    """The database's revision (None: an empty database)."""
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


def known(revision: str) -> bool:
    return revision in {s.revision for s in _scripts().walk_revisions()}


def migrate(conn: Connection, revision: str = "head") -> None:
    """Bring the schema to `revision` (up or down); refuses one this release does not know."""
    from alembic import command

    found = current(conn)
    if found is not None and not known(found):
        raise SchemaTooNew(
            f"the catalog's schema is at revision {found}, newer than this release knows "
            f"(its newest is {head()}): to go back to this release, first run "
            f"`picdrop-server migrate --to {head()}` with the release that made it"
        )
    config = _config(conn)
    if revision == "base":  # an empty database (a restore starts from one)
        command.downgrade(config, "base")
        return
    target = head() if revision == "head" else revision
    if not known(target):
        raise UnknownRevision(f"no schema revision {revision!r} (this release has up to {head()})")
    revisions = [s.revision for s in _scripts(config).walk_revisions()]
    # walk_revisions goes newest first: a target later in the list is older than the database.
    if found is not None and revisions.index(target) > revisions.index(found):
        command.downgrade(config, target)
    else:
        command.upgrade(config, target)
