"""Reports, blocks and the audit log, in the catalog's database (tables from migration 0002).

A removal is one write transaction: the image (and every other live upload of the same bytes)
gets `removed_at`, gives up its blob reference, its hashes join the blocklist, its open reports
are closed, and the audit log says so. A crash in the middle leaves all of it or none of it. The
blobs left without images are removed by the caller after the commit (`Removal.unused_blobs`).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, delete, func, insert, or_, select
from sqlalchemy import update as sql_update

from backend.catalog import bands
from backend.catalog.catalog import Catalog, ImageRecord, WouldBlock
from backend.catalog.dialect import dialect_insert
from backend.catalog.schema import (
    audit_log,
    block_bands,
    blocks,
    catalog_state,
    images,
    pending_fingerprints,
    report_groups,
    reports,
    takedowns,
)
from backend.images.fingerprint import distance

OPEN, DISMISSED, ACTIONED = "open", "dismissed", "actioned"


@dataclass(frozen=True)
class Report:
    id: int
    image_id: str
    reason: str
    details: str | None
    sha256: str | None
    dhash: str | None
    created_at: float
    status: str
    resolved_at: float | None


@dataclass(frozen=True)
class Block:
    id: int
    kind: str  # "sha256" or "dhash"
    value: str
    image_id: str | None
    created_at: float
    note: str | None


@dataclass(frozen=True)
class Fingerprint:
    """What a removal blocks: exact bytes, or a picture by its perceptual hash."""

    kind: str  # "sha256" or "dhash"
    value: str  # dhash: the picture upright
    orientations: tuple[str, ...] = ()  # dhash: the picture mirrored and turned, when known


# A block as shown to admins: its orientation hashes are matching detail.
_BLOCK = [c for c in blocks.c if c.name != "orientations"]
_BLOCK_NAMES = [c.name for c in _BLOCK]
_QUICK_BLOCK_FOR_BYTES = (
    f"SELECT {', '.join(_BLOCK_NAMES)} FROM blocks WHERE kind = 'sha256' AND value = ?"
)
_QUICK_ANY_DHASH = "SELECT 1 FROM blocks WHERE kind = 'dhash' LIMIT 1"
# A fresh random value in `catalog_state`, written in the transaction of every change of the
# perceptual blocks: a process holding them in memory compares it before each check.
BLOCKLIST_VERSION = "blocklist_version"
_QUICK_BLOCKLIST_VERSION = f"SELECT value FROM catalog_state WHERE key = '{BLOCKLIST_VERSION}'"
# Up to this many perceptual blocks are held in memory by each process and compared one hash at a
# time (~0.1 µs a hash, ~0.2 ms at this size): cheaper, below it, than the band index's ~1,100
# SQLite probes a frame (~0.7 ms whatever the size). More blocks: the band index answers.
HELD_BLOCKS = 256
_BLOCKLIST_VERSION = select(catalog_state.c.value).where(catalog_state.c.key == BLOCKLIST_VERSION)


@dataclass(frozen=True)
class ReportCursor:
    """Where an image stands in the list of open reports (the keyset the pages follow)."""

    count: int
    first: float
    image_id: str


@dataclass(frozen=True)
class AuditRecord:
    id: int
    at: float
    actor: str
    action: str
    target: str | None
    detail: dict[str, Any]


@dataclass(frozen=True)
class TakedownEntry:
    """One entry of the takedown log: a removal (`hashes` it blocked) or an unblock."""

    uid: str
    at: float
    actor: str
    action: str  # "remove" or "unblock"
    image_id: str | None
    hashes: tuple[Fingerprint, ...]
    note: str | None


@dataclass(frozen=True)
class Removal:
    removed_ids: tuple[str, ...]  # the image and every other live upload of the same bytes
    block_ids: tuple[int, ...]
    reports_closed: int
    unused_blobs: tuple[str, ...]  # for the caller to remove, now that this has committed


class ModerationCatalog:
    def __init__(self, catalog: Catalog, *, held_blocks: int = HELD_BLOCKS) -> None:
        self.catalog = catalog
        self.held_blocks = held_blocks
        # (blocklist version, the perceptual blocks' hashes as numbers with their blocks, or
        # None when there are more than `held_blocks`): see `_held_blocks`.
        self._held: tuple[str | None, tuple[tuple[int, Block], ...] | None] | None = None

    # -- reports ----------------------------------------------------------------------------------
    def add_report(
        self,
        image_id: str,
        reason: str,
        details: str | None,
        *,
        sha256: str | None,
        dhash: str | None,
        max_open_per_image: int,
        now: float | None = None,
    ) -> bool:
        """Store a report; False when the image already has `max_open_per_image` open ones."""
        now = time.time() if now is None else now
        with self.catalog.writing() as conn:
            count = conn.execute(
                select(func.count())
                .select_from(reports)
                .where(reports.c.image_id == image_id, reports.c.status == OPEN)
            ).scalar_one()
            if count >= max_open_per_image:
                return False
            conn.execute(
                insert(reports).values(
                    image_id=image_id,
                    reason=reason,
                    details=details,
                    sha256=sha256,
                    dhash=dhash,
                    created_at=now,
                    status=OPEN,
                )
            )
            group = dialect_insert(conn)(report_groups).values(
                image_id=image_id, open_count=1, first_at=now
            )
            conn.execute(
                group.on_conflict_do_update(
                    index_elements=[report_groups.c.image_id],
                    set_={"open_count": report_groups.c.open_count + 1},
                )
            )
            return True

    def open_report_groups(
        self, limit: int, after: ReportCursor | None = None
    ) -> list[tuple[ReportCursor, ImageRecord | None, list[Report]]]:
        """A page of the images with open reports, the most reported first (then the first
        reported, then by ID), after `after`: each image's position (the next page's cursor),
        record (None once deleted) and open reports, oldest first. Three queries a page."""
        count, first, image = (
            report_groups.c.open_count,
            report_groups.c.first_at,
            report_groups.c.image_id,
        )
        query = select(image, count, first).order_by(count.desc(), first, image).limit(limit)
        if after is not None:
            query = query.where(
                or_(
                    count < after.count,
                    and_(count == after.count, first > after.first),
                    and_(count == after.count, first == after.first, image > after.image_id),
                )
            )
        with self.catalog.reading() as conn:
            page = [ReportCursor(c, f, i) for i, c, f in conn.execute(query)]
            ids = [p.image_id for p in page]
            records = {
                row.id: ImageRecord(**row._mapping)
                for row in conn.execute(select(images).where(images.c.id.in_(ids)))
            }
            found: dict[str, list[Report]] = {i: [] for i in ids}
            for row in conn.execute(
                select(reports)
                .where(reports.c.status == OPEN, reports.c.image_id.in_(ids))
                .order_by(reports.c.image_id, reports.c.created_at, reports.c.id)
            ):
                found[row.image_id].append(Report(**row._mapping))
        return [(p, records.get(p.image_id), found[p.image_id]) for p in page]

    def reports_for(self, image_id: str) -> list[Report]:
        with self.catalog.reading() as conn:
            rows = conn.execute(
                select(reports).where(reports.c.image_id == image_id).order_by(reports.c.id)
            )
            return [Report(**r._mapping) for r in rows]

    def dismiss_reports(
        self, image_id: str, *, actor: str, note: str | None, now: float | None = None
    ) -> int:
        now = time.time() if now is None else now
        with self.catalog.writing() as conn:
            closed = conn.execute(
                sql_update(reports)
                .where(reports.c.image_id == image_id, reports.c.status == OPEN)
                .values(status=DISMISSED, resolved_at=now)
            ).rowcount
            conn.execute(delete(report_groups).where(report_groups.c.image_id == image_id))
            _audit(conn, now, actor, "dismiss_reports", image_id, {"reports": closed, "note": note})
            return closed

    # -- removal ----------------------------------------------------------------------------------
    def remove(
        self,
        image_id: str,
        *,
        hashes: Sequence[Fingerprint],
        actor: str,
        note: str | None,
        now: float | None = None,
        uid: str | None = None,
    ) -> Removal:
        """Remove the image and its twins, block `hashes`, close reports.

        Works for an ID whose row is gone too (deleted by its uploader after being reported):
        then only the hashes are blocked and the reports closed. `uid` names the takedown log's
        entry (a new one unless a restore re-applies one).
        """
        now = time.time() if now is None else now
        with self.catalog.writing() as conn:
            sha = conn.execute(select(images.c.sha256).where(images.c.id == image_id)).scalar()
            removed: list[str] = []
            unused: list[str] = []
            if sha is not None:
                rows = conn.execute(
                    sql_update(images)
                    .where(images.c.sha256 == sha, images.c.removed_at.is_(None))
                    .values(removed_at=now)
                    .returning(images.c.id, images.c.blob_key)
                ).all()
                for row in rows:
                    removed.append(row.id)
                    if self.catalog.drop_blob_ref(conn, row.blob_key):
                        unused.append(row.blob_key)
            block_ids = [self._add_block(conn, h, image_id, now, note) for h in hashes]
            closed = conn.execute(
                sql_update(reports)
                .where(
                    reports.c.image_id.in_(sorted({image_id, *removed})),
                    reports.c.status == OPEN,
                )
                .values(status=ACTIONED, resolved_at=now)
            ).rowcount
            conn.execute(
                delete(report_groups).where(report_groups.c.image_id.in_({image_id, *removed}))
            )
            detail = {"removed": removed, "blocks": block_ids, "reports": closed, "note": note}
            _audit(conn, now, actor, "remove", image_id, detail)
            _log_takedown(conn, uid, now, actor, "remove", image_id, hashes, note)
            return Removal(tuple(removed), tuple(block_ids), closed, tuple(unused))

    def _add_block(
        self, conn: Connection, h: Fingerprint, image_id: str, now: float, note: str | None
    ) -> int:
        stmt = dialect_insert(conn)(blocks).values(
            kind=h.kind,
            value=h.value,
            image_id=image_id,
            created_at=now,
            note=note,
            orientations=" ".join(h.orientations) or None,
        )
        # Blocked already: the block stays as it was, gaining orientations it lacked.
        stmt = stmt.on_conflict_do_update(
            index_elements=[blocks.c.kind, blocks.c.value],
            set_={"orientations": stmt.excluded.orientations},
            where=blocks.c.orientations.is_(None),
        )
        conn.execute(stmt)
        block_id = conn.execute(
            select(blocks.c.id).where(blocks.c.kind == h.kind, blocks.c.value == h.value)
        ).scalar_one()
        if h.kind == "dhash":
            _new_blocklist_version(conn)
            rows = {
                (band, value)
                for x in (h.value, *h.orientations)
                for band, value in bands.band_values(x)
            }
            conn.execute(
                dialect_insert(conn)(block_bands).on_conflict_do_nothing(),
                [{"band": b, "value": v, "block_id": block_id} for b, v in sorted(rows)],
            )
        return block_id

    # -- blocks -----------------------------------------------------------------------------------
    def blocks(self, limit: int, after: int = 0) -> list[Block]:
        """A page of the blocklist, by ID, after the block `after`."""
        query = select(*_BLOCK).where(blocks.c.id > after).order_by(blocks.c.id).limit(limit)
        with self.catalog.reading() as conn:
            return [Block(**r._mapping) for r in conn.execute(query)]

    def unblock(
        self,
        block_id: int,
        *,
        actor: str,
        note: str | None,
        now: float | None = None,
        uid: str | None = None,
    ) -> Block | None:
        now = time.time() if now is None else now
        with self.catalog.writing() as conn:
            row = conn.execute(
                delete(blocks).where(blocks.c.id == block_id).returning(*_BLOCK)
            ).first()
            if row is None:
                return None
            block = Block(**row._mapping)
            conn.execute(delete(block_bands).where(block_bands.c.block_id == block_id))
            if block.kind == "dhash":
                _new_blocklist_version(conn)
            detail = {"kind": block.kind, "value": block.value, "note": note}
            _audit(conn, now, actor, "unblock", str(block_id), detail)
            unblocked = [Fingerprint(block.kind, block.value)]
            _log_takedown(conn, uid, now, actor, "unblock", block.image_id, unblocked, note)
            return block

    def block_id(self, kind: str, value: str) -> int | None:
        with self.catalog.reading() as conn:
            return conn.execute(
                select(blocks.c.id).where(blocks.c.kind == kind, blocks.c.value == value)
            ).scalar()

    # -- the takedown log -------------------------------------------------------------------------
    def takedown_log(self) -> list[TakedownEntry]:
        """Every removal and unblock, oldest first."""
        with self.catalog.reading() as conn:
            rows = conn.execute(select(takedowns).order_by(takedowns.c.at, takedowns.c.uid))
            return [_takedown_entry(row) for row in rows]

    def block_for_bytes(self, sha256: str) -> Block | None:
        with suppress(WouldBlock):  # every upload asks: the quick reader, when it can answer
            row = self.catalog.read_nowait(_QUICK_BLOCK_FOR_BYTES, (sha256,))
            return None if row is None else Block(**dict(zip(_BLOCK_NAMES, row, strict=True)))
        with self.catalog.reading() as conn:
            row = conn.execute(
                select(*_BLOCK).where(blocks.c.kind == "sha256", blocks.c.value == sha256)
            ).first()
            return None if row is None else Block(**row._mapping)

    # -- perceptual hashes left for later -------------------------------------------------------
    def pending_fingerprints(self, limit: int, image_id: str | None = None) -> list[ImageRecord]:
        """Live or removed images whose perceptual hash is still to be computed, oldest first
        (or only `image_id`, if it is one). Queue entries whose image is gone are dropped."""
        query = (
            select(pending_fingerprints.c.image_id, images)
            .select_from(
                pending_fingerprints.outerjoin(
                    images, images.c.id == pending_fingerprints.c.image_id
                )
            )
            .order_by(pending_fingerprints.c.queued_at, pending_fingerprints.c.image_id)
            .limit(limit)
        )
        if image_id is not None:
            query = query.where(pending_fingerprints.c.image_id == image_id)
        with self.catalog.reading() as conn:
            rows = conn.execute(query).all()
        gone = [row.image_id for row in rows if row.id is None]
        if gone:
            self.set_fingerprints({image_id: None for image_id in gone})
        fields = ImageRecord.__dataclass_fields__
        return [ImageRecord(**{k: row._mapping[k] for k in fields}) for row in rows if row.id]

    def set_fingerprints(self, hashes: Mapping[str, str | None]) -> None:
        """Record computed perceptual hashes (None: the picture is too plain, or unreadable) on
        the images and on their reports made meanwhile, and take them off the queue."""
        with self.catalog.writing() as conn:
            for image_id, dhash in hashes.items():
                if dhash is not None:
                    conn.execute(
                        sql_update(images).where(images.c.id == image_id).values(dhash=dhash)
                    )
                    conn.execute(
                        sql_update(reports)
                        .where(reports.c.image_id == image_id, reports.c.dhash.is_(None))
                        .values(dhash=dhash)
                    )
            conn.execute(
                delete(pending_fingerprints).where(
                    pending_fingerprints.c.image_id.in_(list(hashes))
                )
            )

    def has_perceptual_blocks(self) -> bool:
        with suppress(WouldBlock):
            return self.catalog.read_nowait(_QUICK_ANY_DHASH) is not None
        with self.catalog.reading() as conn:
            return (
                conn.execute(select(blocks.c.id).where(blocks.c.kind == "dhash").limit(1)).first()
                is not None
            )

    def block_near(self, frames: Sequence[str], limit: int) -> Block | None:
        """A dhash block one of whose hashes is within `limit` bits of one of `frames`: found
        in memory while they are few (`_held_blocks`), else through the band index
        (backend.catalog.bands), or by a scan beyond its reach."""
        held = self._held_blocks()
        if held is not None:
            values = [int(f, 16) for f in frames]
            return next(
                (block for h, block in held for v in values if (v ^ h).bit_count() <= limit), None
            )
        if not bands.covers(limit):
            return next(
                (
                    block
                    for block, hashes in self.perceptual_blocks()
                    if any(distance(f, h) <= limit for f in frames for h in hashes)
                ),
                None,
            )
        with self.catalog.reading() as conn:
            mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
            for frame in frames:
                for band, values in bands.probes(frame, limit):
                    # Driver SQL: binding hundreds of values through SQLAlchemy's compiler
                    # costs several times the index lookups themselves.
                    rows = conn.exec_driver_sql(
                        "SELECT blocks.id, blocks.value, blocks.orientations FROM block_bands"
                        " JOIN blocks ON blocks.id = block_bands.block_id"
                        f" WHERE block_bands.band = {mark}"
                        f" AND block_bands.value IN ({', '.join([mark] * len(values))})",
                        (band, *values),
                    )
                    for row in rows:
                        hashes = (row.value, *(row.orientations or "").split())
                        if any(distance(frame, h) <= limit for h in hashes):
                            return self._block(conn, row.id)
        return None

    def _block(self, conn: Connection, block_id: int) -> Block:
        return Block(**conn.execute(select(*_BLOCK).where(blocks.c.id == block_id)).one()._mapping)

    def _held_blocks(self) -> tuple[tuple[int, Block], ...] | None:
        """The perceptual blocks' hashes (as numbers) with their blocks, held in memory while
        there are at most `held_blocks`. None when there are more (the band index answers), or
        when the catalog has no blocklist version (blocks made before it): then every check reads
        the catalog, as every change of the blocks made here writes a new version.

        The version is read on every call (a point read), so a block added or lifted by another
        process or replica is enforced from the very next check."""
        version = self._blocklist_version()
        if version is None:
            return None
        held = self._held
        if held is None or held[0] != version:
            held = self._held = self._load_held()
        return held[1]

    def _blocklist_version(self) -> str | None:
        with suppress(WouldBlock):  # every upload asks: the quick reader, when it can answer
            row = self.catalog.read_nowait(_QUICK_BLOCKLIST_VERSION)
            return None if row is None else row[0]
        with self.catalog.reading() as conn:
            return conn.execute(_BLOCKLIST_VERSION).scalar()

    def _load_held(self) -> tuple[str | None, tuple[tuple[int, Block], ...] | None]:
        with self.catalog.reading() as conn:  # the version first: the blocks are at least as new
            version = conn.execute(_BLOCKLIST_VERSION).scalar()
            found = _perceptual(conn, self.held_blocks + 1)
        if len(found) > self.held_blocks:
            return version, None
        return version, tuple((int(h, 16), block) for block, hashes in found for h in hashes)

    def perceptual_blocks(self) -> list[tuple[Block, tuple[str, ...]]]:
        """Each dhash block with the hashes it matches: upright, then mirrored and turned."""
        with self.catalog.reading() as conn:
            return _perceptual(conn)

    # -- audit log --------------------------------------------------------------------------------
    def audit(
        self, actor: str, action: str, target: str | None, detail: dict[str, Any] | None = None
    ) -> None:
        with self.catalog.writing() as conn:
            _audit(conn, time.time(), actor, action, target, detail or {})

    def audit_entries(self, limit: int = 100, before: int | None = None) -> list[AuditRecord]:
        query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
        if before is not None:
            query = query.where(audit_log.c.id < before)
        with self.catalog.reading() as conn:
            return [
                AuditRecord(**{**r._mapping, "detail": json.loads(r.detail or "{}")})
                for r in conn.execute(query)
            ]


def _perceptual(conn: Connection, limit: int | None = None) -> list[tuple[Block, tuple[str, ...]]]:
    """The first `limit` dhash blocks (all: None) with their hashes: upright, then turned."""
    rows = conn.execute(
        select(*_BLOCK, blocks.c.orientations)
        .where(blocks.c.kind == "dhash")
        .order_by(blocks.c.id)
        .limit(limit)
    )
    return [
        (
            Block(**{c.name: row._mapping[c.name] for c in _BLOCK}),
            (row.value, *(row.orientations or "").split()),
        )
        for row in rows
    ]


def _new_blocklist_version(conn: Connection) -> None:
    stmt = dialect_insert(conn)(catalog_state).values(key=BLOCKLIST_VERSION, value=uuid.uuid4().hex)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[catalog_state.c.key], set_={"value": stmt.excluded.value}
        )
    )


def _log_takedown(
    conn: Connection,
    uid: str | None,
    now: float,
    actor: str,
    action: str,
    image_id: str | None,
    hashes: Sequence[Fingerprint],
    note: str | None,
) -> None:
    detail = {"hashes": [[h.kind, h.value, list(h.orientations)] for h in hashes], "note": note}
    conn.execute(
        insert(takedowns).values(
            uid=uid or uuid.uuid4().hex,
            at=now,
            actor=actor,
            action=action,
            image_id=image_id,
            detail=json.dumps({k: v for k, v in detail.items() if v is not None}),
        )
    )


def _takedown_entry(row: Any) -> TakedownEntry:
    detail = json.loads(row.detail)
    hashes = tuple(Fingerprint(k, v, tuple(turned)) for k, v, turned in detail["hashes"])
    return TakedownEntry(
        row.uid, row.at, row.actor, row.action, row.image_id, hashes, detail.get("note")
    )


def _audit(
    conn: Connection,
    now: float,
    actor: str,
    action: str,
    target: str | None,
    detail: dict[str, Any],
) -> None:
    conn.execute(
        insert(audit_log).values(
            at=now,
            actor=actor,
            action=action,
            target=target,
            detail=json.dumps({k: v for k, v in detail.items() if v is not None}, sort_keys=True),
        )
    )
