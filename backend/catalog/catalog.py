"""Catalog operations over SQLAlchemy Core, for SQLite (default) and PostgreSQL.

Consistency rules (design promise 5), with no blob I/O under a database lock:
- an image row is committed only after its blob is durable (the caller writes the blob first);
- a blob's key is written once and never reused: new bytes go under a key of their own (content
  hash plus a generation), and an upload of bytes already stored adopts the live blob's row;
- a blob's reference count lives in the `blobs` table. A delete that takes the count to zero
  removes the count's row and commits; only then does the caller remove the object. Nothing can
  adopt it meanwhile (adopting needs the row), so no lock is held while it goes. A crash or an
  error between the two leaves an orphan object (the sweep removes it), never a row without its
  blob.

On SQLite every write transaction starts with BEGIN IMMEDIATE (it takes the write lock up front, so
two writers never deadlock upgrading a read lock); reads use a separate engine with plain BEGIN.
A file of zeros beside the database (`-reserve`) is given up when the disk is full, so that a
delete, which needs room in the WAL before it can free any, still commits.

On PostgreSQL (READ COMMITTED) the same statements are safe by row locks, not by a global lock:
- adopting a blob locks its row (`SELECT ... FOR UPDATE`) before counting it; if a concurrent
  delete removed the row meanwhile, the upload finds none and writes its bytes afresh;
- `UPDATE ... RETURNING` and `DELETE ... RETURNING` lock the rows they touch, so two deletes of
  one image cannot both succeed, and a refcount is never decremented twice;
- an ID collision is retried inside a SAVEPOINT, so the failed INSERT does not abort the upload;
- migrations take a transaction-level advisory lock, so replicas starting at once upgrade the
  schema one after the other (the second finds it done);
- `exclusive(name)` is a session advisory lock (a file lock on SQLite) that lets one process of
  all replicas at a time run housekeeping.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Collection, Iterator
from contextlib import closing, contextmanager, nullcontext, suppress
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Insert,
    bindparam,
    create_engine,
    delete,
    event,
    exists,
    func,
    insert,
    literal,
    select,
    union_all,
)
from sqlalchemy import update as sql_update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    DatabaseError,
    DisconnectionError,
    IntegrityError,
    InterfaceError,
    OperationalError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout

from backend import ids
from backend.catalog import deadline, versions
from backend.catalog.dialect import dialect_insert
from backend.catalog.group_commit import GroupCommit
from backend.catalog.schema import blobs, idempotency, images, pending_fingerprints
from backend.filelock import HAVE_FLOCK, flocked

log = logging.getLogger(__name__)
MIGRATIONS = versions.MIGRATIONS

MAX_ID_ATTEMPTS = 8

# Every upload runs these: built once, so that each run skips building and keying the statement.
_INSERT_BLOB = insert(blobs)
_QUEUE_FINGERPRINT = insert(pending_fingerprints)
_INSERT_IDEMPOTENCY = insert(idempotency)
_LIVE_BLOB = (
    select(blobs.c.key).where(blobs.c.sha256 == bindparam("sha256"), blobs.c.refcount > 0).limit(1)
)
_LIVE_BLOB_SQL = "SELECT key FROM blobs WHERE sha256 = ? AND refcount > 0 LIMIT 1"
_LIVE_BLOB_FOR_UPDATE = _LIVE_BLOB.with_for_update()
_COUNT_ONE_MORE = (
    sql_update(blobs)
    .where(blobs.c.key == bindparam("blob_key"))
    .values(refcount=blobs.c.refcount + 1)
)


@functools.cache
def _insert_new_image(dialect: str) -> Insert:
    """INSERT of an image that does nothing when its ID is taken, for `dialect`'s database."""
    insert_new = dialect_insert(dialect)(images).on_conflict_do_nothing(
        index_elements=[images.c.id]
    )
    return insert_new.returning(images.c.id)  # a row when inserted (rowcount is not portable)


# Room kept for deletes on a full disk: one delete writes a few pages to the WAL (~30 KB).
RESERVE_BYTES = 1 << 20


@dataclass(frozen=True)
class ImageRecord:
    id: str
    blob_key: str
    sha256: str
    mime: str
    ext: str
    width: int
    height: int
    size: int
    frames: int
    delete_token_hash: str
    created_at: float
    expires_at: float | None
    removed_at: float | None
    dhash: str | None = None

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and self.expires_at <= now


@dataclass(frozen=True)
class NewImage:
    """Everything about an upload except its ID, which the catalog picks under its constraint."""

    blob_key: str
    sha256: str
    mime: str
    ext: str
    width: int
    height: int
    size: int
    frames: int
    delete_token_hash: str
    expires_at: float | None
    dhash: str | None = None


@dataclass(frozen=True)
class IdempotencyClaim:
    """What an upload with an Idempotency-Key stores beside its image."""

    key_hash: str
    request_sha256: str
    sealed_token: str


@dataclass(frozen=True)
class Deleted:
    """A committed delete. `unused_blob`: the blob it left without images, for the caller to
    remove once this has committed, or None when other images still use it."""

    unused_blob: str | None


@dataclass(frozen=True)
class BlobUsage:
    """One blob as the catalog sees it: how many live images use it, and its stored count
    (None when it has no row in `blobs`). The two differ only if something went wrong."""

    key: str
    images: int
    refcount: int | None


@dataclass(frozen=True)
class IdempotencyRecord:
    key_hash: str
    image_id: str
    request_sha256: str
    sealed_token: str
    created_at: float


def _timeout_args(url: str, connect_timeout: int, statement_timeout: int) -> dict[str, Any]:
    """libpq's connection timeout and a server-side statement timeout, for PostgreSQL."""
    if not make_url(url).get_backend_name().startswith("postgresql"):
        return {}
    return {
        "connect_timeout": connect_timeout,
        "options": f"-c statement_timeout={statement_timeout * 1000}",
    }


class Catalog:
    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 10,
        reserve_bytes: int = RESERVE_BYTES,
        connect_timeout: int = 5,
        statement_timeout: int = 30,
        pool_timeout: int = 10,
    ) -> None:
        """Timeouts in seconds (server databases): past one, the call raises instead of hanging."""
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self._deadlines: deadline.Watchdog | None = None
        if self.is_sqlite:
            self._read_engine = _sqlite_engine(url, immediate=False)
            self._write_engine = _sqlite_engine(url, immediate=True)
        else:
            engine = create_engine(
                url,
                pool_size=pool_size,
                max_overflow=pool_size,
                pool_timeout=pool_timeout,
                connect_args=_timeout_args(url, connect_timeout, statement_timeout),
            )
            # A restarted database or a dropped connection is not an error (each checkout pings),
            # and a frozen one is not a hang: the statement timeout is also kept client-side.
            self._deadlines = deadline.install(
                engine,
                statement_seconds=statement_timeout + connect_timeout,
                ping_seconds=connect_timeout,
            )
            self._read_engine = self._write_engine = engine
        self.is_postgresql = self._write_engine.dialect.name == "postgresql"
        self._quick = _QuickReader(url) if self.is_sqlite else None
        database = self._quick.path if self._quick is not None else None  # None: in memory
        self._reserve = (
            _SpaceReserve(Path(database + "-reserve"), reserve_bytes)
            if database and reserve_bytes > 0
            else None
        )
        # SQLite has one writer at a time. Writers of this process queue here, and each is woken
        # the moment the one before commits; left to SQLite's busy handler they would poll,
        # sleeping up to 100 ms between tries, while the lock is free most of that time.
        # (Other processes sharing the file still meet at BEGIN IMMEDIATE and the busy timeout.)
        self._write_lock = threading.RLock() if self.is_sqlite else None
        # SQLite: uploads ready together share one commit (one fsync). PostgreSQL commits
        # concurrently anyway, and a shared transaction would hold row locks for others' work.
        self._group = GroupCommit(self.writing) if self.is_sqlite else None

    def close(self) -> None:
        if self._deadlines is not None:
            self._deadlines.stop()
        if self._quick is not None:
            self._quick.close()
        self._read_engine.dispose()
        self._write_engine.dispose()

    # -- schema ---------------------------------------------------------------------------------
    def migrate(self, revision: str = "head") -> None:
        """Create or upgrade the schema to the newest migration (or up or down to `revision`).
        Raises versions.SchemaTooNew for a schema a newer release made, CatalogDamaged for a
        SQLite file that is not a whole database."""
        try:
            with self._write_engine.begin() as conn:
                if self.is_postgresql:
                    # Replicas starting together: one migrates, the others wait here and then
                    # find the schema current (DDL is transactional on PostgreSQL; the lock ends
                    # with it).
                    conn.execute(select(func.pg_advisory_xact_lock(advisory_key("migrate"))))
                versions.migrate(conn, revision)
        except DatabaseError as exc:
            damaged = _damaged(self._quick.path, exc) if self._quick is not None else None
            if damaged is None:
                raise
            raise damaged from exc
        if self._reserve is not None:
            self._reserve.keep()

    def migrate_when_reachable(self, patience: float, sleep=time.sleep) -> None:
        """`migrate`, waiting up to `patience` seconds for an unreachable database, with a line
        each try: a server (or one of its processes) started during an outage comes up with the
        database instead of failing, which would stop every process of that server."""
        give_up = time.monotonic() + patience
        pause = 1.0
        while True:
            try:
                self.migrate()
                return
            except (OperationalError, InterfaceError, DisconnectionError, PoolTimeout) as exc:
                if time.monotonic() + pause > give_up:
                    raise
                log.warning(
                    "database unavailable at start (%s: %s); trying again in %.0f s",
                    type(exc).__name__,
                    next(iter(str(exc).splitlines()), ""),
                    pause,
                )
            sleep(pause)
            pause = min(pause * 2, 15.0)

    @contextmanager
    def exclusive(self, name: str) -> Iterator[bool]:
        """Yields True in at most one process (of all replicas) at a time for `name`, else False.

        PostgreSQL: a session advisory lock on its own connection, released at the end (or by
        the server when this process dies). SQLite: an flock on a file beside the database, so
        that of the processes of one `serve` only one sweeps (the kernel releases it when the
        holder dies; an in-memory database, or a system without flock, has one process: True).
        """
        if not self.is_postgresql:
            with self._file_lock(name) as got:
                yield got
            return
        key = advisory_key(name)
        conn = self._write_engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            got = bool(conn.execute(select(func.pg_try_advisory_lock(key))).scalar_one())
            try:
                yield got
            finally:
                if got:
                    try:
                        conn.execute(select(func.pg_advisory_unlock(key)))
                    except Exception:
                        conn.invalidate()  # closing the session releases the lock
                        raise
        finally:
            conn.close()

    @contextmanager
    def _file_lock(self, name: str) -> Iterator[bool]:
        database = self._quick.path if self._quick is not None else None
        if database is None or not HAVE_FLOCK:
            yield True
            return
        with (
            open(f"{database}-{name}.lock", "ab") as lock,
            flocked(lock.fileno(), wait=False) as got,
        ):
            yield got

    # -- transactions (for the catalog's own modules: catalog.moderation) ----------------------
    @contextmanager
    def reading(self) -> Iterator[Connection]:
        with self._read_engine.connect() as conn:
            yield conn

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        with self._write_lock or nullcontext(), self._write_engine.begin() as conn:
            yield conn

    # -- images ---------------------------------------------------------------------------------
    def get(self, image_id: str) -> ImageRecord | None:
        with self.reading() as conn:
            row = conn.execute(select(images).where(images.c.id == image_id)).first()
        return ImageRecord(**row._mapping) if row else None

    def get_nowait(self, image_id: str) -> ImageRecord | None:
        """Like `get`, for the event loop's fast path: a point read straight through sqlite3 that
        never waits for a lock. Raises WouldBlock when it cannot answer at once (not SQLite, an
        in-memory database, or the database is busy); the caller then takes the normal path.

        Every call reads the database afresh (no cache), so a delete by another process (replica)
        is seen by the very next request here.
        """
        if self._quick is None:
            raise WouldBlock()
        return self._quick.get(image_id)

    def read_nowait(self, sql: str, parameters: tuple = ()) -> tuple | None:
        """The first row of `sql` (plain SQLite SQL), read as `get_nowait` reads: for the
        hottest reads of the catalog's own modules. Raises WouldBlock when it cannot answer."""
        if self._quick is None:
            raise WouldBlock()
        return self._quick.first(sql, parameters)

    def add_image(
        self,
        new: NewImage,
        *,
        written: bool,
        id_length: int = 10,
        claim: IdempotencyClaim | None = None,
        fingerprint_later: bool = False,
    ) -> ImageRecord | IdempotencyRecord:
        """Insert an image whose blob is stored under `new.blob_key`: an object the caller has
        just written under a key never used before (`written`), or the live blob of these bytes
        that `live_blob` found.

        A live blob of the same bytes is always adopted (the record's `blob_key` then names it,
        and an object the caller wrote is unused: the caller removes it). With nothing live to
        adopt and nothing written, raises BlobGone: the last image using the blob was deleted
        meanwhile, its object may be going, and the caller must write the bytes afresh.
        With an idempotency `claim`, an earlier (or concurrent) upload with the same key wins: its
        IdempotencyRecord is returned instead and nothing is added. `fingerprint_later`: its
        perceptual hash was not computed; it is queued for the background pass.
        """
        now = time.time()

        def add(conn: Connection) -> ImageRecord:
            live = self._adopt_live_blob(conn, new.sha256)
            if live is not None:
                adopted = replace(new, blob_key=live)
            elif written:
                adopted = new
                conn.execute(
                    _INSERT_BLOB,
                    {
                        "key": new.blob_key,
                        "sha256": new.sha256,
                        "size": new.size,
                        "refcount": 1,
                        "created_at": now,
                    },
                )
            else:
                raise BlobGone(new.blob_key)
            record = self._insert_image(conn, adopted, now, id_length)
            if fingerprint_later:
                conn.execute(_QUEUE_FINGERPRINT, {"image_id": record.id, "queued_at": now})
            if claim is not None:
                conn.execute(
                    _INSERT_IDEMPOTENCY,
                    {"image_id": record.id, "created_at": now, **claim.__dict__},
                )
            return record

        try:
            if self._group is not None:
                return self._group.run(add)
            with self.writing() as conn:
                return add(conn)
        except IntegrityError:
            if claim is None:
                raise
            existing = self.find_idempotency(claim.key_hash)
            if existing is None:
                raise
            return existing

    def _adopt_live_blob(self, conn: Connection, sha256: str) -> str | None:
        """Count one more image on the live blob of these bytes, if there is one: its key."""
        key = conn.execute(_LIVE_BLOB_FOR_UPDATE, {"sha256": sha256}).scalar()
        if key is not None:
            conn.execute(_COUNT_ONE_MORE, {"blob_key": key})
        return key

    def live_blob(self, sha256: str) -> str | None:
        """The key of a blob of these bytes that images use, if any (an upload adopts it)."""
        with suppress(WouldBlock):  # SQLite: a point read without the pool and the ORM layers
            row = self.read_nowait(_LIVE_BLOB_SQL, (sha256,))
            return row[0] if row else None
        with self.reading() as conn:
            return conn.execute(_LIVE_BLOB, {"sha256": sha256}).scalar()

    def _insert_image(
        self, conn: Connection, new: NewImage, now: float, id_length: int
    ) -> ImageRecord:
        # A drawn ID that is taken inserts nothing (ON CONFLICT DO NOTHING): draw again, with no
        # SAVEPOINT around each try to roll back to.
        insert_new = _insert_new_image(conn.dialect.name)
        for _ in range(MAX_ID_ATTEMPTS):
            record = ImageRecord(
                id=ids.new_id(id_length), created_at=now, removed_at=None, **new.__dict__
            )
            if conn.execute(insert_new, record.__dict__).first() is not None:
                return record
        raise RuntimeError("could not find a free image ID")  # 62**10 IDs: practically never

    def delete_image(self, image_id: str) -> Deleted | None:
        """Delete the row and its blob reference (None if unknown). Touches no object: the
        caller removes `unused_blob` after this has committed. Works on a full disk."""
        return next(iter(self.delete_images([image_id])), None)

    def delete_images(self, image_ids: Collection[str]) -> list[Deleted]:
        """`delete_image` for many in one transaction (one commit, one fsync): one Deleted for
        each row found."""

        def write() -> list[Deleted]:
            with self.writing() as conn:
                rows = conn.execute(
                    delete(images)
                    .where(images.c.id.in_(list(image_ids)))
                    .returning(images.c.blob_key, images.c.removed_at)
                ).all()
                conn.execute(
                    delete(pending_fingerprints).where(
                        pending_fingerprints.c.image_id.in_(list(image_ids))
                    )
                )
                # A removed image gave up its blob reference already.
                return [
                    Deleted(
                        row.blob_key
                        if row.removed_at is None and self.drop_blob_ref(conn, row.blob_key)
                        else None
                    )
                    for row in rows
                ]

        try:
            return write()
        except OperationalError as exc:
            if not is_disk_full(exc) or self._reserve is None or not self._reserve.release():
                raise
        log.warning("disk full: gave up the catalog's reserve so that a delete can free space")
        return write()

    def drop_blob_ref(self, conn: Connection, key: str) -> bool:
        """One image less uses `key`, in the caller's write transaction; True when that was the
        last one (its row is gone, and the caller removes the object after the commit)."""
        remaining = conn.execute(
            sql_update(blobs)
            .where(blobs.c.key == key)
            .values(refcount=blobs.c.refcount - 1)
            .returning(blobs.c.refcount)
        ).scalar()
        if remaining is not None and remaining <= 0:
            conn.execute(delete(blobs).where(blobs.c.key == key))
            return True
        return False

    def expired_ids(self, now: float, limit: int = 500) -> list[str]:
        with self.reading() as conn:
            return list(
                conn.execute(
                    select(images.c.id)
                    .where(images.c.expires_at.is_not(None), images.c.expires_at <= now)
                    .limit(limit)
                ).scalars()
            )

    # -- idempotency ----------------------------------------------------------------------------
    def find_idempotency(self, key_hash: str) -> IdempotencyRecord | None:
        with self.reading() as conn:
            row = conn.execute(
                select(idempotency).where(idempotency.c.key_hash == key_hash)
            ).first()
        return IdempotencyRecord(**row._mapping) if row else None

    def forget_idempotency(self, older_than: float) -> int:
        with self.writing() as conn:
            return conn.execute(
                delete(idempotency).where(idempotency.c.created_at < older_than)
            ).rowcount

    # -- blobs ----------------------------------------------------------------------------------
    def blob_is_referenced(self, key: str) -> bool:
        with self.reading() as conn:
            return conn.execute(select(blobs.c.key).where(blobs.c.key == key)).first() is not None

    def referenced_among(self, keys: Collection[str]) -> set[str]:
        """Which of `keys` have a count (one query for a page of a store's listing)."""
        with self.reading() as conn:
            return set(
                conn.execute(select(blobs.c.key).where(blobs.c.key.in_(list(keys)))).scalars()
            )

    def referenced_blob_keys(self) -> set[str]:
        with self.reading() as conn:
            return set(conn.execute(select(blobs.c.key)).scalars())

    def contents_in_use(self, sha256s: Collection[str]) -> set[str]:
        """Which of these content hashes a live blob holds (one query for a page of thumbnails)."""
        with self.reading() as conn:
            return set(
                conn.execute(
                    select(blobs.c.sha256)
                    .where(blobs.c.sha256.in_(list(sha256s)), blobs.c.refcount > 0)
                    .distinct()
                ).scalars()
            )

    def space_freed(self) -> None:
        """Objects were removed: take back the room a full disk made the catalog give up."""
        if self._reserve is not None:
            self._reserve.keep()

    def repair_refcount(self, key: str) -> int:
        """Set the blob's count to the number of live images using it (no row when none) and
        return it. Safe beside live traffic: the row is locked before the images are counted,
        so an upload or delete of the same blob either comes before the count or after it."""
        with self.writing() as conn:
            conn.execute(
                dialect_insert(conn)(blobs)
                .values(key=key, size=0, refcount=0, created_at=time.time())
                .on_conflict_do_nothing(index_elements=[blobs.c.key])
            )
            conn.execute(select(blobs.c.key).where(blobs.c.key == key).with_for_update())
            count, size, sha256 = conn.execute(
                select(func.count(), func.max(images.c.size), func.max(images.c.sha256)).where(
                    images.c.blob_key == key, images.c.removed_at.is_(None)
                )
            ).one()
            if count == 0:
                conn.execute(delete(blobs).where(blobs.c.key == key))
            else:
                conn.execute(
                    sql_update(blobs)
                    .where(blobs.c.key == key)
                    .values(refcount=count, size=size, sha256=sha256)
                )
            return count

    # -- checks ---------------------------------------------------------------------------------
    def blob_usage(self) -> Iterator[BlobUsage]:
        """Every blob that live images use or that has a count, streamed, from one snapshot."""
        live = images.c.removed_at.is_(None)
        used = (
            select(images.c.blob_key, func.count(), blobs.c.refcount)
            .select_from(images.outerjoin(blobs, blobs.c.key == images.c.blob_key))
            .where(live)
            .group_by(images.c.blob_key, blobs.c.refcount)
        )
        counted_only = select(blobs.c.key, literal(0), blobs.c.refcount).where(
            ~exists().where(images.c.blob_key == blobs.c.key, live)
        )
        with self.reading() as conn:
            rows = conn.execution_options(yield_per=1000).execute(union_all(used, counted_only))
            for key, count, refcount in rows:
                yield BlobUsage(key, count, refcount)

    def live_image_ids(self, blob_key: str, limit: int = 5) -> list[str]:
        """Some of the live images that use `blob_key` (for a report)."""
        with self.reading() as conn:
            return list(
                conn.execute(
                    select(images.c.id)
                    .where(images.c.blob_key == blob_key, images.c.removed_at.is_(None))
                    .order_by(images.c.id)
                    .limit(limit)
                ).scalars()
            )

    def live_blob_keys_among(self, keys: Collection[str]) -> set[str]:
        """Which of `keys` live images use (one query for a batch of a store's listing)."""
        with self.reading() as conn:
            return set(
                conn.execute(
                    select(images.c.blob_key)
                    .where(images.c.blob_key.in_(list(keys)), images.c.removed_at.is_(None))
                    .distinct()
                ).scalars()
            )

    def ping(self) -> None:
        """Raises when the database cannot be reached (the health check)."""
        with self.reading() as conn:
            conn.exec_driver_sql("SELECT 1")

    def integrity_check(self) -> str:
        """'ok' or SQLite's description of what is wrong (PostgreSQL: always 'ok')."""
        if not self.is_sqlite:
            return "ok"
        with self.reading() as conn:
            return conn.exec_driver_sql("PRAGMA integrity_check").scalar_one()


class BlobGone(Exception):
    """The blob an upload meant to adopt lost its last image meanwhile: write the bytes afresh."""


class WouldBlock(Exception):
    """The quick read cannot answer without waiting; use the normal (threaded) path."""


_IMAGE_COLUMNS = ", ".join(f'"{c}"' for c in ImageRecord.__dataclass_fields__)
_QUICK_GET = f"SELECT {_IMAGE_COLUMNS} FROM images WHERE id = ?"


class _QuickReader:
    """One plain sqlite3 connection per thread for point reads, without pool or ORM layers.

    busy_timeout 0: in WAL mode readers do not wait for writers, so the only waits left are rare
    (a checkpoint truncating the WAL, recovery after a crash); those raise WouldBlock at once
    instead of stalling the event loop. query_only: this connection can never write.
    """

    def __init__(self, url: str) -> None:
        path = url.split(":///", 1)[-1] if ":///" in url else ""
        self.path = path if path and path != ":memory:" and "mode=memory" not in path else None
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def _connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self.path is None or not Path(self.path).exists():
                raise WouldBlock()
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout=0")
            conn.execute("PRAGMA query_only=1")
            with self._lock:
                self._all.append(conn)
            self._local.conn = conn
        return conn

    def get(self, image_id: str) -> ImageRecord | None:
        row = self.first(_QUICK_GET, (image_id,))
        return ImageRecord(*row) if row else None

    def first(self, sql: str, parameters: tuple) -> tuple | None:
        try:
            return self._connection().execute(sql, parameters).fetchone()
        except sqlite3.OperationalError as exc:  # busy, locked, or the schema is not there yet
            raise WouldBlock() from exc

    def close(self) -> None:
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            conn.close()
        self._local = threading.local()


class _SpaceReserve:
    """A file of zeros kept beside the SQLite database while there is room, deleted when a
    delete meets a full disk: that delete then has room to commit, and frees its blob after."""

    def __init__(self, path: Path, size: int) -> None:
        self.path = path
        self.size = size

    def keep(self) -> None:
        """Create the file if it is missing and there is room now (else at the next chance)."""
        try:
            if self.path.stat().st_size == self.size:
                return
        except FileNotFoundError:
            pass
        try:
            with self.path.open("wb") as f:
                f.write(bytes(self.size))  # zeros written, not a sparse file: really allocated
                f.flush()
                os.fsync(f.fileno())
        except OSError:  # no room (or a read-only directory): no reserve for now
            with suppress(OSError):
                self.path.unlink(missing_ok=True)

    def release(self) -> bool:
        """Give the room back to the filesystem; False if there was none to give."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        return True


def is_disk_full(exc: OperationalError) -> bool:
    """SQLite could not grow its file or its WAL."""
    orig = exc.orig
    name = getattr(orig, "sqlite_errorname", "")
    return name.startswith("SQLITE_FULL") or "database or disk is full" in str(orig)


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for PostgreSQL's advisory locks."""
    digest = hashlib.sha256(f"picdrop:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class CatalogDamaged(RuntimeError):
    """The SQLite catalog file is not a whole database (not one at all, or a damaged one)."""


# SQLite's names for a file that is not (or no longer) a database.
_DAMAGED = frozenset(("SQLITE_NOTADB", "SQLITE_CORRUPT"))


def _damaged(path: str, exc: BaseException) -> CatalogDamaged | None:
    """The CatalogDamaged that `exc` (sqlite3's, or SQLAlchemy's wrapping it) means, if any."""
    cause = getattr(exc, "orig", exc)
    if getattr(cause, "sqlite_errorname", "") not in _DAMAGED:
        return None
    return CatalogDamaged(
        f"the catalog at {path} is damaged ({cause}). Move it aside (with any -wal and -shm "
        "file beside it), then restore the last backup: picdrop-server restore --yes FILE"
    )


def _enable_wal(path: str, timeout: float = 30.0) -> None:
    """Switch the database file to WAL once (the mode is stored in the file).

    Changing the journal mode needs an exclusive lock, and SQLite answers SQLITE_BUSY at once,
    without calling the busy handler, when another connection is opening the same new database
    (seen with several processes starting together); so retry here, before any pool exists.
    """
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        try:
            with closing(sqlite3.connect(path, timeout=timeout)) as conn:
                if conn.execute("PRAGMA journal_mode=WAL").fetchone()[0].lower() == "wal":
                    return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
        except sqlite3.DatabaseError as exc:
            damaged = _damaged(path, exc)
            if damaged is None:
                raise
            raise damaged from exc
        if time.monotonic() > deadline:
            raise sqlite3.OperationalError(f"could not switch {path} to WAL mode")
        time.sleep(delay)
        delay = min(delay * 2, 0.2)


def _sqlite_engine(url: str, *, immediate: bool) -> Engine:
    path = url.split(":///", 1)[-1] if ":///" in url else ""
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        _enable_wal(path)
    engine = create_engine(url, pool_size=8, max_overflow=16)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:
        # Let SQLAlchemy's "begin" event decide how transactions start (SQLAlchemy's documented
        # recipe for pysqlite, whose own implicit BEGIN is DEFERRED).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA busy_timeout=30000")  # WAL itself was set by _enable_wal
        # FULL: a commit is on disk when it returns, so a 201 survives power loss, not just a crash.
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine
