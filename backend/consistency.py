"""`picdrop-server check`: does the catalog agree with the blob store, both ways?

Through the public seams only (Catalog, BlobStore: list, exists, delete), so it works the same
for SQLite with a directory and for PostgreSQL with S3. Both sides are streamed: the catalog's
blobs one by one, the store's listing in batches, so memory stays flat however big they are.

What it looks for:
- a blob that live images use but the store does not have (their images are lost: 404);
- a blob (or thumbnail) in the store that no live image uses, older than the orphan grace
  (younger ones may belong to an upload that has not committed yet);
- a reference count in the catalog that differs from the number of live images using the blob,
  a count for a blob no image uses, or images using a blob that has no count;
- images without a thumbnail: not a problem (one is made on first view), only counted.

`repair=True` fixes what can be fixed beside a running server: counts are recomputed under the
blob's lock, orphans are removed the way the sweep removes them (never one an upload has just
adopted), and so are the leftovers of interrupted writes older than the grace, except while the
orphan sweep is held (sweep_guard: after a restore, or a catalog that wrote no blob): then the
orphans are only reported. A missing blob cannot be made up: it is reported, and stays a problem.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from backend import sweep_guard
from backend.catalog import BlobUsage, Catalog
from backend.service import THUMBNAILS, key_sha256
from backend.storage import BlobStore

BATCH = 500  # store keys looked up in the catalog per query


@dataclass(frozen=True)
class Finding:
    kind: str  # missing_blob, orphan_blob, orphan_thumbnail, wrong_refcount, ...
    key: str
    problem: str  # in plain words
    repair: str | None = None  # what --repair did; None when it was not repaired

    def line(self) -> str:
        text = f"{self.kind.replace('_', ' ')}: {self.key}: {self.problem}"
        return text + (f"; repaired: {self.repair}" if self.repair else "")


@dataclass
class CheckReport:
    findings: list[Finding] = field(default_factory=list)
    images: int = 0  # live images
    blobs: int = 0  # blobs they use
    stored: int = 0  # objects listed in the store
    thumbnails: int = 0  # thumbnails of live images in the store
    recent: int = 0  # unused objects younger than the grace, left alone
    temporary: int = 0  # leftovers of interrupted writes removed (with repair)
    sweep_held: str | None = None  # why repair left the orphans (the sweep's hold), if it did

    @property
    def unrepaired(self) -> list[Finding]:
        return [f for f in self.findings if f.repair is None]

    @property
    def missing_thumbnails(self) -> int:
        return max(0, self.blobs - self.thumbnails)

    def summary(self) -> str:
        repaired = len(self.findings) - len(self.unrepaired)
        found = f"{_count(len(self.findings), 'problem')} found"
        if repaired:
            found += f", {repaired} repaired"
        return (
            f"checked {_images(self.images)} using {_count(self.blobs, 'blob')}, and "
            f"{_count(self.stored, 'object')} in the store: {found}. Images without a thumbnail "
            f"yet (made on first view): {self.missing_thumbnails}. Unused objects newer than the "
            f"orphan grace, left alone: {self.recent}. Leftovers of interrupted writes removed: "
            f"{self.temporary}."
            + (
                f" Orphans not removed: the orphan sweep is held ({self.sweep_held}); after "
                "checking, `picdrop-server sweep --release` lifts the hold."
                if self.sweep_held
                else ""
            )
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "findings": [asdict(f) for f in self.findings],
            "problems": len(self.findings),
            "unrepaired": len(self.unrepaired),
            "images": self.images,
            "blobs": self.blobs,
            "stored": self.stored,
            "thumbnails": self.thumbnails,
            "missing_thumbnails": self.missing_thumbnails,
            "recent": self.recent,
            "temporary": self.temporary,
            "sweep_held": self.sweep_held,
        }


def _count(n: int, thing: str) -> str:
    return f"{n} {thing}" if n == 1 else f"{n} {thing}s"


def _images(n: int) -> str:
    return _count(n, "image")


def check(
    catalog: Catalog,
    store: BlobStore,
    *,
    grace: float,
    repair: bool = False,
    now: float | None = None,
    on_finding: Callable[[Finding], None] | None = None,
) -> CheckReport:
    """Compare catalog and store; with `repair`, fix what can be fixed. `on_finding` sees each
    finding as it is made (for printing as the check goes)."""
    report = CheckReport()

    def found(finding: Finding) -> None:
        report.findings.append(finding)
        if on_finding is not None:
            on_finding(finding)

    for usage in catalog.blob_usage():  # counts first: a repaired count frees an orphan below
        _check_blob(catalog, store, usage, repair, report, found)
    cutoff = (time.time() if now is None else now) - grace
    if repair:
        report.temporary = store.sweep_temporary(grace)
        report.sweep_held = sweep_guard.hold_reason(catalog, store)
    remove = repair and report.sweep_held is None
    batch: dict[str, bool] = {}  # key -> older than the grace
    for info in store.list():
        report.stored += 1
        batch[info.key] = info.modified <= cutoff
        if len(batch) >= BATCH:
            _check_stored(catalog, store, batch, remove, report, found)
            batch = {}
    _check_stored(catalog, store, batch, remove, report, found)
    return report


def _check_blob(
    catalog: Catalog,
    store: BlobStore,
    usage: BlobUsage,
    repair: bool,
    report: CheckReport,
    found: Callable[[Finding], None],
) -> None:
    key = usage.key
    if usage.images:
        report.images += usage.images
        report.blobs += 1
        # A miss is looked at again after asking for the images: they may have been deleted
        # meanwhile (and an upload of the same bytes commits only once they are back).
        users = [] if store.exists(key) else catalog.live_image_ids(key)
        if users and not store.exists(key):
            more = ", ..." if usage.images > len(users) else ""
            found(
                Finding(
                    "missing_blob",
                    key,
                    f"used by {_images(usage.images)} ({', '.join(users)}{more}) but not in the "
                    "store; restore it from a backup, or delete those images",
                )
            )
    if usage.refcount == usage.images:
        return
    if usage.refcount is None:
        kind, problem = "missing_refcount", f"used by {_images(usage.images)} but has no count"
    elif usage.images == 0:
        kind, problem = "stale_refcount", f"counted {usage.refcount} times but used by no image"
    else:
        kind = "wrong_refcount"
        problem = f"counted {usage.refcount} times but used by {_images(usage.images)}"
    done = None
    if repair:
        count = catalog.repair_refcount(key)
        done = f"count set to {count}" if count else "count removed"
    found(Finding(kind, key, problem, done))


def _check_stored(
    catalog: Catalog,
    store: BlobStore,
    batch: dict[str, bool],
    remove: bool,
    report: CheckReport,
    found: Callable[[Finding], None],
) -> None:
    """One batch of the store's listing: which objects no live image uses (`remove`: and
    remove them)."""
    if not batch:
        return
    contents = {key: key_sha256(key) for key in batch if key.startswith(THUMBNAILS)}
    used = catalog.live_blob_keys_among([k for k in batch if k not in contents])
    in_use = catalog.contents_in_use(set(contents.values()))
    for key, old in batch.items():
        thumbnail = key in contents
        if (contents[key] in in_use) if thumbnail else (key in used):
            report.thumbnails += thumbnail
            continue
        if not old:
            report.recent += 1
            continue
        done = None
        if remove:
            if not thumbnail and catalog.blob_is_referenced(key):
                continue  # counted but unused: the count's finding covers it
            # Keys are never reused: an object with no row cannot gain one, no lock needed.
            store.delete(key)
            done = "removed"
        kind = "orphan_thumbnail" if thumbnail else "orphan_blob"
        found(Finding(kind, key, "in the store but used by no image", done))
