"""Reports, takedowns and the blocklist: what the report form and the admin API/CLI do.

Used by the HTTP layer (`/report/{id}`, `/api/images/{id}/report`, `/api/admin/...`) and by
`picdrop-server admin ...`; both pass an `actor` ("api" or "cli") for the audit log. Every admin
action that changes something, and every look at an image's record, is appended to the audit log.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from backend import ids
from backend.catalog import Catalog, ImageRecord
from backend.catalog.moderation import (
    AuditRecord,
    Block,
    Fingerprint,
    ModerationCatalog,
    Report,
    ReportCursor,
    TakedownEntry,
)
from backend.catalog.schema import REPORT_REASONS
from backend.errors import BadRequest, Blocked, NotFound
from backend.images import Processed, probe
from backend.images.fingerprint import dihedral_hashes, distance, frame_hashes, perceptual_hash
from backend.images.pipeline import process_memory
from backend.service import ImageService
from backend.settings import Settings
from backend.storage import BlobStore

log = logging.getLogger(__name__)
FINGERPRINT_BATCH = 4  # hashes per pass: a few ms of CPU, so uploads never wait long behind it

MAX_DETAILS = 2000
MAX_OPEN_REPORTS_PER_IMAGE = 50  # more reports of one image are accepted but not stored
MAX_NOTE = 500
PAGE = 100  # admin listing entries per page unless asked otherwise
T = TypeVar("T")

REASON_LABELS = {
    "illegal": "Illegal content",
    "non_consensual": "Intimate or private image shared without consent",
    "violence": "Violence, gore or threats",
    "spam": "Spam, scam or malware",
    "copyright": "Copyright infringement",
    "other": "Something else",
}
assert tuple(REASON_LABELS) == REPORT_REASONS


def clean_text(value: Any, limit: int, what: str) -> str | None:
    """Free text from a client: a string, control characters removed, at most `limit` chars."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequest(f"'{what}' must be text.")
    text = "".join(c for c in value if c.isprintable() or c in "\n\t").strip()
    if len(text) > limit:
        raise BadRequest(f"'{what}' is too long: at most {limit} characters.")
    return text or None


def check_reason(value: Any) -> str:
    if not isinstance(value, str) or value not in REPORT_REASONS:
        raise BadRequest(f"'reason' must be one of {', '.join(REPORT_REASONS)}.")
    return value


# -- what the admin operations return (the HTTP models and the CLI's JSON are made from these) --
@dataclass(frozen=True)
class ReportedImage:
    """An image with open reports, and those reports."""

    image_id: str
    state: str  # live, removed, expired or deleted
    count: int
    reasons: dict[str, int]
    first_reported_at: float
    last_reported_at: float
    reports: tuple[Report, ...]


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of an admin listing, and the cursor of the next one (None: the last page)."""

    items: tuple[T, ...]
    next: str | None


def _cursor_fields(cursor: str, count: int) -> list[str]:
    fields = cursor.split(":", count - 1)
    if len(fields) != count:
        raise BadRequest("'cursor' is not one this server gave.")
    return fields


# Cursor numbers are row ids and counts: ASCII digits (str.isdigit() also takes '²', which
# int() refuses), within the catalog's 64-bit integers.
_CURSOR_INT = re.compile(r"[0-9]{1,18}")


def _cursor_int(text: str) -> int:
    if not _CURSOR_INT.fullmatch(text):
        raise BadRequest("'cursor' is not one this server gave.")
    return int(text)


def _cursor_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise BadRequest("'cursor' is not one this server gave.")
    return value


@dataclass(frozen=True)
class ImageFile:
    """What the catalog knows about an image, and its reports."""

    id: str
    state: str  # live, removed, expired or deleted
    record: ImageRecord | None  # None once deleted
    blob_present: bool  # whether its blob is still referenced (a removal purges it)
    reports: tuple[Report, ...]


@dataclass(frozen=True)
class Fingerprinted:
    """A perceptual hash computed after the upload (None: too plain or undecodable)."""

    image_id: str
    dhash: str | None
    copy_of_removed: bool = False


@dataclass(frozen=True)
class Takedown:
    id: str
    removed: tuple[str, ...]  # the image and every other live upload of the same bytes
    blocks: tuple[int, ...]
    reports_closed: int


@dataclass(frozen=True)
class Dismissal:
    id: str
    dismissed: int


@dataclass(frozen=True)
class Purge:
    purged: int


class Moderation:
    """Reports, takedowns and the blocklist over the catalog's moderation tables; images are
    looked up, read, purged and their blobs removed through the image service."""

    def __init__(
        self, settings: Settings, catalog: Catalog, store: BlobStore, images: ImageService
    ) -> None:
        self.settings = settings
        self.catalog = catalog
        self.store = store
        self.images = images
        self.db = ModerationCatalog(catalog)

    # -- the upload screen -------------------------------------------------------------------------
    def screen(self, processed: Processed) -> None:
        """Refuse (451) the same bytes as removed content, or an upload any frame of which shows
        a perceptual near-copy of a removed picture, mirrored or turned or not.

        CPU-bound when there are perceptual blocks: it decodes every frame of the upload.
        """
        block = self.db.block_for_bytes(processed.sha256) or self._perceptual_match(processed)
        if block is not None:
            log.info("upload refused: matches block %d (%s)", block.id, block.kind)
            raise Blocked()

    def _perceptual_match(self, processed: Processed) -> Block | None:
        if not self.db.has_perceptual_blocks():
            return None  # nothing to compare with: no decode
        frames = frame_hashes(
            processed.data, processed.info, self.images.limits, first=processed.dhash
        )
        return self.db.block_near(frames, self.settings.block_distance)

    def fingerprint_at_upload(self) -> bool:
        """Whether an upload's perceptual hash is needed before its 201: when the settings say
        so, when a scanner is configured (it is sent the hash), and while perceptual blocks
        exist (its frames are compared with them). Otherwise the background pass
        (`fingerprints_due`) computes it moments later."""
        return (
            self.settings.fingerprint_at_upload
            or bool(self.settings.scanner_url)
            or self.db.has_perceptual_blocks()
        )

    # The background pass (run by the app: backend.http.app) over the hashes left for later, in
    # three steps so that its pixel work is charged and scheduled like an upload's.
    def fingerprints_due(
        self, limit: int = FINGERPRINT_BATCH, image_id: str | None = None
    ) -> list[ImageRecord]:
        """I/O: the oldest uploads whose perceptual hash is due (or `image_id`, if its is). Their
        bytes are read by the two steps below, each charged for them as image work."""
        return self.db.pending_fingerprints(limit, image_id)

    def fingerprint_memory(self, record: ImageRecord) -> int:
        """Headers only: the bytes of pixels `fingerprint` will decode. Raises NotFound when
        the blob is missing, StorageUnavailable when the store cannot be read."""
        return process_memory(self.images.blob(record), self.images.limits)

    def fingerprint(self, record: ImageRecord) -> Fingerprinted:
        """CPU: the upload's perceptual hash, and whether it shows removed content (a block made
        after it was checked), comparing every frame as `screen` does."""
        data = self.images.blob(record)
        info = probe(data, self.images.limits)
        dhash = perceptual_hash(data, info)
        copy = False
        if record.removed_at is None and self.db.has_perceptual_blocks():
            frames = frame_hashes(data, info, self.images.limits, first=dhash)
            copy = self.db.block_near(frames, self.settings.block_distance) is not None
        return Fingerprinted(record.id, dhash, copy)

    def record_fingerprints(self, done: Iterable[Fingerprinted]) -> None:
        """I/O: keep the hashes, and take down the copies of removed content, as `screen` would
        have refused them."""
        done = list(done)
        self.db.set_fingerprints({f.image_id: f.dhash for f in done})
        for found in done:
            if found.copy_of_removed:
                log.info("a copy of removed content was found after its upload: taken down")
                self.remove(found.image_id, actor="blocklist", note="a copy of removed content")

    # -- reports (anyone) --------------------------------------------------------------------------
    def report(self, image_id: str, reason: Any, details: Any, *, keep: bool = True) -> bool:
        """Validate and keep a report; False when it was accepted but not kept (a repeat, or
        `keep` False: the client's report limit was reached).

        Raises NotFound for unknown IDs and Removed for removed images, like viewing would.
        """
        reason = check_reason(reason)
        details = clean_text(details, MAX_DETAILS, "details")
        record = self.images.lookup(image_id)
        if not keep:
            return False
        return self.db.add_report(
            record.id,
            reason,
            details,
            sha256=record.sha256,
            dhash=record.dhash,
            max_open_per_image=MAX_OPEN_REPORTS_PER_IMAGE,
        )

    # -- admin -------------------------------------------------------------------------------------
    def open_reports(self, limit: int = PAGE, cursor: str | None = None) -> Page[ReportedImage]:
        """A page of the open reports grouped by image, the most reported first."""
        after = None
        if cursor is not None:
            count, first, image_id = _cursor_fields(cursor, 3)
            after = ReportCursor(_cursor_int(count), _cursor_float(first), image_id)
        rows = self.db.open_report_groups(limit, after)
        result = []
        for _, record, items in rows:
            reasons: dict[str, int] = {}
            for r in items:
                reasons[r.reason] = reasons.get(r.reason, 0) + 1
            result.append(
                ReportedImage(
                    image_id=items[0].image_id,
                    state=self._state(record),
                    count=len(items),
                    reasons=reasons,
                    first_reported_at=items[0].created_at,
                    last_reported_at=items[-1].created_at,
                    reports=tuple(items),
                )
            )
        last = rows[-1][0] if len(rows) == limit else None
        return Page(tuple(result), last and f"{last.count}:{last.first!r}:{last.image_id}")

    def image_record(self, image_id: str, *, actor: str) -> ImageFile:
        """Everything the catalog knows about an image, and its reports."""
        if not ids.is_valid_id(image_id):
            raise NotFound()
        record = self.catalog.get(image_id)
        reports = self.db.reports_for(image_id)
        if record is None and not reports:
            raise NotFound()
        self.db.audit(actor, "show", image_id)
        present = record is not None and self.catalog.blob_is_referenced(record.blob_key)
        return ImageFile(image_id, self._state(record), record, present, tuple(reports))

    def remove(self, image_id: str, *, actor: str, note: Any = None) -> Takedown:
        """Take the image down (451 from now on), block its content, purge its blob if unused."""
        note = clean_text(note, MAX_NOTE, "note")
        if not ids.is_valid_id(image_id):
            raise NotFound()
        record = self.catalog.get(image_id)
        hashes: list[Fingerprint] = []
        if record is not None:
            hashes.append(Fingerprint("sha256", record.sha256))
            hashes += self._pictures(record.blob_key, record.dhash)
        else:  # gone already (deleted by its uploader?): block what its reports recorded
            for r in self.db.reports_for(image_id):
                if r.sha256:
                    hashes.append(Fingerprint("sha256", r.sha256))
                if r.dhash:
                    hashes.append(Fingerprint("dhash", r.dhash))
            if not hashes:
                raise NotFound()
        removal = self.db.remove(
            image_id,
            hashes=list(dict.fromkeys(hashes)),
            actor=actor,
            note=note,
        )
        for key in removal.unused_blobs:
            self.images.remove_unused_blob(key)
        return Takedown(image_id, removal.removed_ids, removal.block_ids, removal.reports_closed)

    def _pictures(self, key: str, dhash: str | None) -> list[Fingerprint]:
        """The perceptual blocks for a stored image: each distinct frame (a frame within the
        block distance of one kept already adds nothing), in all eight orientations. Only the
        recorded upright hash, if any, when the blob cannot be read."""
        try:
            data = self.store.get(key)
            frames = dihedral_hashes(data, probe(data, self.images.limits), self.images.limits)
        except Exception:
            log.warning(
                "a removed image's blob cannot be read: its picture is blocked upright only"
            )
            return [Fingerprint("dhash", dhash)] if dhash else []
        kept: list[Fingerprint] = []
        for upright, *turned in frames:
            if not any(
                distance(upright, h) <= self.settings.block_distance
                for k in kept
                for h in (k.value, *k.orientations)
            ):
                kept.append(Fingerprint("dhash", upright, tuple(turned)))
        return kept

    def dismiss(self, image_id: str, *, actor: str, note: Any = None) -> Dismissal:
        note = clean_text(note, MAX_NOTE, "note")
        if not ids.is_valid_id(image_id):
            raise NotFound()
        return Dismissal(image_id, self.db.dismiss_reports(image_id, actor=actor, note=note))

    def blocks(self, limit: int = PAGE, cursor: str | None = None) -> Page[Block]:
        """A page of the blocklist, oldest first."""
        after = 0 if cursor is None else _cursor_int(cursor)
        found = self.db.blocks(limit, after)
        return Page(tuple(found), str(found[-1].id) if len(found) == limit else None)

    def unblock(self, block_id: int, *, actor: str, note: Any = None) -> Block:
        note = clean_text(note, MAX_NOTE, "note")
        block = self.db.unblock(block_id, actor=actor, note=note)
        if block is None:
            raise NotFound(f"There is no block {block_id}.")
        return block

    # -- the takedown log -------------------------------------------------------------------------
    def reapply(self, entries: Sequence[TakedownEntry]) -> int:
        """Apply the entries of a takedown log this catalog lacks (after a restore of an older
        backup), in order and with their own times: removals block their hashes again and
        remove the images, unblocks lift their blocks. Returns how many were applied."""
        known = {e.uid for e in self.db.takedown_log()}
        applied = 0
        for entry in entries:
            if entry.uid in known:
                continue
            if entry.action == "remove":
                removal = self.db.remove(
                    entry.image_id or "",
                    hashes=list(entry.hashes),
                    actor=entry.actor,
                    note=entry.note,
                    now=entry.at,
                    uid=entry.uid,
                )
                for key in removal.unused_blobs:
                    self.images.remove_unused_blob(key)
            else:
                (unblocked,) = entry.hashes
                block_id = self.db.block_id(unblocked.kind, unblocked.value)
                if block_id is None:
                    continue  # not blocked here: nothing to lift
                self.db.unblock(
                    block_id, actor=entry.actor, note=entry.note, now=entry.at, uid=entry.uid
                )
            applied += 1
        return applied

    def purge_expired(self, *, actor: str) -> Purge:
        purged = self.images.purge_expired()
        self.db.audit(actor, "purge_expired", None, {"purged": purged})
        return Purge(purged)

    def audit_log(
        self, limit: int = PAGE, before: int | None = None, cursor: str | None = None
    ) -> Page[AuditRecord]:
        """A page of the audit log, newest first, before the entry `before` (or `cursor`)."""
        if cursor is not None:
            before = _cursor_int(cursor)
        found = self.db.audit_entries(limit, before)
        return Page(tuple(found), str(found[-1].id) if len(found) == limit else None)

    def _state(self, record: ImageRecord | None) -> str:
        if record is None:
            return "deleted"
        if record.removed_at is not None:
            return "removed"
        if record.expired(self.images.clock()):
            return "expired"
        return "live"
