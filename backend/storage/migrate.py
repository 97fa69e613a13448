"""Copying every blob from one store to another (`picdrop-server migrate-storage`).

The copy is idempotent and resumable: a key already in the destination with the same size is
skipped, so running it again after an interruption (or a second time to catch up) only copies
what is missing. Content keys are checked against their SHA-256 on the way, so a damaged source
object is reported instead of copied. See docs/DEPLOY.md for the zero-downtime procedure.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from backend.storage.base import BlobStore

log = logging.getLogger(__name__)


@dataclass
class CopyReport:
    copied: int = 0
    skipped: int = 0
    vanished: int = 0  # deleted from the source while we copied: nothing to do
    bytes_copied: int = 0
    failed: list[str] = field(default_factory=list)  # keys, with the reason logged


def _content_sha256(key: str) -> str | None:
    """The hash a content key names ("ab/<sha256>.jpg"); thumbnails are named after their
    original's hash, not their own, so they have none to check."""
    if key.startswith("thumbs/"):
        return None
    name = key.rsplit("/", 1)[-1].split(".", 1)[0]
    return name if len(name) == 64 and all(c in "0123456789abcdef" for c in name) else None


def copy_blobs(
    source: BlobStore,
    dest: BlobStore,
    *,
    jobs: int = 8,
    progress: Callable[[CopyReport], None] | None = None,
) -> CopyReport:
    report = CopyReport()
    lock = threading.Lock()
    have = {info.key: info.size for info in dest.list()}

    def copy_one(key: str) -> None:
        try:
            data = source.get(key)
        except KeyError:
            with lock:
                report.vanished += 1
            return
        expected = _content_sha256(key)
        if expected is not None and hashlib.sha256(data).hexdigest() != expected:
            log.error("%s: the source object does not match its hash; not copied", key)
            with lock:
                report.failed.append(key)
            return
        dest.put(key, data)
        with lock:
            report.copied += 1
            report.bytes_copied += len(data)

    def todo() -> Iterable[str]:
        for info in source.list():
            if have.get(info.key) == info.size:
                report.skipped += 1
                continue
            yield info.key

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        pending: dict[Future[None], str] = {}
        for key in todo():
            pending[pool.submit(copy_one, key)] = key
            if len(pending) >= jobs * 4:  # bounded: the listing may hold millions of keys
                _collect(pending, report, lock, progress)
        while pending:
            _collect(pending, report, lock, progress)
    return report


def _collect(
    pending: dict[Future[None], str],
    report: CopyReport,
    lock: threading.Lock,
    progress: Callable[[CopyReport], None] | None,
) -> None:
    done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
    for future in done:
        key = pending.pop(future)
        exc = future.exception()
        if exc is not None:
            log.error("%s: copy failed: %s", key, exc)
            with lock:
                report.failed.append(key)
    if progress is not None:
        progress(report)


def missing_keys(keys: Iterable[str], dest: BlobStore) -> list[str]:
    """Which of `keys` (e.g. every key the catalog references) the destination lacks."""
    have = {info.key for info in dest.list()}
    return sorted(k for k in keys if k not in have)
