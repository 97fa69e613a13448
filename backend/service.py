"""The image service: what an upload, a view and a delete do, independent of HTTP.

It ties the pure pipeline (`images`), the blob store and the catalog together. Methods are
synchronous (they block on disk, database and CPU); the HTTP layer runs them in worker threads.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass
from functools import partial
from itertools import islice
from pathlib import Path

from backend import ids, sweep_guard
from backend.catalog import (
    BlobGone,
    Catalog,
    IdempotencyClaim,
    IdempotencyRecord,
    ImageRecord,
    NewImage,
    WouldBlock,
)
from backend.errors import BadRequest, Forbidden, IdempotencyMismatch, NotFound, Removed
from backend.expiry import EXPIRY_CHOICES, requested_lifetime
from backend.images import Limits, Processed, make_thumbnail, process
from backend.images.thumbnail import thumbnail_memory
from backend.retention import lifetime, parse_retention
from backend.settings import Settings
from backend.storage import BlobStore, StorageFull

log = logging.getLogger(__name__)

IDEMPOTENCY_TTL = 24 * 3600
SWEEP_PAGE = 500  # store keys the orphan sweep looks up in the catalog per query
THUMBNAILS = "thumbs/"
IDEMPOTENCY_KEY_LENGTH = (16, 200)

# A check run on every processed upload before it is stored (blocklist, external scanner...).
# It raises an ApiError to refuse the upload. `checks` run in the CPU stage (prepare), `screens`
# at the start of the I/O stage (store_upload): the blocklist is a check, the scanner a screen.
UploadCheck = Callable[[Processed], None]


@dataclass(frozen=True)
class Upload:
    record: ImageRecord
    delete_token: str
    replayed: bool = False


def new_blob_key(sha256: str, ext: str) -> str:
    """A key never used before for these bytes: content hash, generation, format. Never reusing
    a key is what lets a delete remove an object without holding a lock (see the catalog).
    Blobs stored before catalog migration 0006 have keys without the generation."""
    return f"{sha256[:2]}/{sha256}.{secrets.token_hex(6)}.{ext}"


def thumbnail_key(sha256: str) -> str:
    return f"{THUMBNAILS}{sha256[:2]}/{sha256}.webp"


def key_sha256(key: str) -> str:
    """The content hash a blob or thumbnail key was made from."""
    return key.rsplit("/", 1)[-1].split(".", 1)[0]


class ImageService:
    def __init__(
        self,
        settings: Settings,
        catalog: Catalog,
        store: BlobStore,
        *,
        checks: Iterable[UploadCheck] = (),
        screens: Iterable[UploadCheck] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.catalog = catalog
        self.store = store
        self.checks = list(checks)
        self.screens = list(screens)
        self.retention = parse_retention(settings.retention)
        self.clock = clock
        self.limits = Limits(
            max_side=settings.max_side,
            max_pixels=settings.max_pixels,
            max_frames=settings.max_frames,
            max_total_pixels=settings.max_total_pixels,
        )
        self.cache = ByteCache(settings.cache_bytes)
        # Whether an upload's perceptual hash is computed before its 201 (it decodes pixels):
        # always, until the assembly hands in the moderation's answer (while blocks need it).
        self.fingerprint_now: Callable[[], bool] = lambda: True
        # The periodic sweep's orphan pass: in this process, until the assembly hands in one
        # that runs in a child process (backend/sweep_process.py).
        self.orphan_sweep: Callable[[], int] = self.sweep_orphans

    # -- upload ---------------------------------------------------------------------------------
    def expiry(self, requested: str | None) -> float | None:
        """Absolute expiry time for a requested lifetime, capped by the server's policy."""
        now = self.clock()
        try:
            seconds = requested_lifetime(requested or self.settings.default_expiry, now)
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        cap = EXPIRY_CHOICES[self.settings.max_expiry]
        if cap is not None and (seconds is None or seconds > cap):
            seconds = cap
        return None if seconds is None else now + seconds

    def replay(self, request_sha256: str, idempotency_key: str) -> Upload | None:
        """The earlier answer to an upload with this Idempotency-Key, if there was one."""
        lo, hi = IDEMPOTENCY_KEY_LENGTH
        if not lo <= len(idempotency_key) <= hi or not idempotency_key.isprintable():
            raise BadRequest(
                f"An Idempotency-Key must be {lo} to {hi} printable characters (a UUID is ideal)."
            )
        found = self.catalog.find_idempotency(ids.idempotency_key_hash(idempotency_key))
        return None if found is None else self._replayed(found, request_sha256, idempotency_key)

    def _replayed(self, found: IdempotencyRecord, request_sha256: str, key: str) -> Upload:
        if found.request_sha256 != request_sha256:
            raise IdempotencyMismatch(
                "This Idempotency-Key was already used for a different file; "
                "use a new key for each file."
            )
        record = self.catalog.get(found.image_id)
        if record is None:
            raise NotFound("The upload this Idempotency-Key belongs to was deleted.")
        if record.removed_at is not None:
            raise Removed()
        return Upload(record, ids.unseal_token(found.sealed_token, key), replayed=True)

    def prepare(self, data: bytes, data_sha256: str | None = None) -> Processed:
        """CPU-bound: validate and strip. Raises ImageRejected (or a check's ApiError).
        `data_sha256`: the digest of `data`, when known (saves hashing it again)."""
        processed = process(data, self.limits, data_sha256, fingerprint=self.fingerprint_now())
        for check in self.checks:
            check(processed)
        return processed

    def store_upload(
        self,
        processed: Processed,
        *,
        request_sha256: str,
        expires_at: float | None,
        idempotency_key: str | None = None,
    ) -> Upload:
        """Screen, write the blob durably (unless these bytes are stored already), then commit
        the row.

        Raises a screen's ApiError (blocked content, scanner refusal), StorageFull when the
        disk is full, or StorageUnavailable when the store refuses writes (read-only, failing,
        unreachable). No database lock is held while the store is written.
        """
        for screen in self.screens:
            screen(processed)
        data = processed.data
        if self.retention is not None:
            kept_until = self.clock() + lifetime(len(data), self.settings.max_bytes, self.retention)
            expires_at = kept_until if expires_at is None else min(expires_at, kept_until)
        add = partial(
            self._add,
            processed,
            request_sha256=request_sha256,
            expires_at=expires_at,
            idempotency_key=idempotency_key,
        )

        live = self.catalog.live_blob(processed.sha256)
        if live is not None:
            # The store is asked too: a blob that is referenced but missing is written again.
            if not self.store.exists(live):
                self.store.put(live, data)
            with suppress(BlobGone):  # its last image was deleted meanwhile: write afresh
                return add(live, written=False)
        key = new_blob_key(processed.sha256, processed.info.ext)
        self.store.put(key, data)
        try:
            upload = add(key, written=True)
        except Exception:
            self._discard(key)  # e.g. the database is full: leave no orphan if we can help it
            raise
        if upload.record.blob_key != key:  # a concurrent upload of the same bytes came first
            self._discard(key)
        return upload

    def _discard(self, key: str) -> None:
        """Remove an object this upload wrote and no image uses (the sweep would, later)."""
        try:
            self.store.delete(key)
        except Exception:
            log.warning("could not take back an unused blob; the sweep will")

    def _add(
        self,
        processed: Processed,
        key: str,
        *,
        written: bool,
        request_sha256: str,
        expires_at: float | None,
        idempotency_key: str | None,
    ) -> Upload:
        info = processed.info
        data = processed.data
        token = ids.new_delete_token()
        claim = None
        if idempotency_key is not None:
            claim = IdempotencyClaim(
                key_hash=ids.idempotency_key_hash(idempotency_key),
                request_sha256=request_sha256,
                sealed_token=ids.seal_token(token, idempotency_key),
            )
        result = self.catalog.add_image(
            NewImage(
                blob_key=key,
                sha256=processed.sha256,
                mime=info.mime,
                ext=info.ext,
                width=info.width,
                height=info.height,
                size=len(data),
                frames=info.frames,
                delete_token_hash=ids.hash_token(token),
                expires_at=expires_at,
                dhash=processed.dhash,
            ),
            written=written,
            fingerprint_later=not processed.fingerprinted,
            id_length=self.settings.id_length,
            claim=claim,
        )
        if isinstance(result, IdempotencyRecord):  # a concurrent try with the same key won
            assert idempotency_key is not None
            return self._replayed(result, request_sha256, idempotency_key)
        self.cache.put(result.blob_key, data)
        return Upload(result, token)

    # -- reading --------------------------------------------------------------------------------
    def cache_lookups(self) -> tuple[int, int]:
        """Hits and misses of the byte cache since start (the metrics' hit ratio)."""
        return self.cache.hits, self.cache.misses

    def lookup(self, image_id: str) -> ImageRecord:
        """The live record, or NotFound (unknown, deleted and expired look the same) / Removed."""
        record = self.lookup_any(image_id)
        if record.removed_at is not None:
            raise Removed()
        return record

    def blob(self, record: ImageRecord) -> bytes:
        try:
            return self._cached(record.blob_key)
        except KeyError:
            log.error("blob %s of image %s is missing", record.blob_key, record.id)
            raise NotFound() from None

    def _cached(self, key: str) -> bytes:
        """The memory cache, else the blob store (then cached). KeyError: not in the store."""
        data = self.cache.get(key)
        if data is None:
            data = self.store.get(key)
            self.cache.put(key, data)
        return data

    def lookup_nowait(self, image_id: str, now: float) -> ImageRecord | None:
        """The record if it is live at `now` and the catalog can tell without waiting; None
        otherwise (unknown, expired, removed, or a catalog that would block): then `lookup`
        gives the exact answer."""
        if not ids.is_valid_id(image_id):
            return None
        try:
            record = self.catalog.get_nowait(image_id)
        except WouldBlock:
            return None
        if record is None or record.removed_at is not None or record.expired(now):
            return None
        return record

    def cached_blob(self, record: ImageRecord) -> bytes | None:
        """The image's bytes if they are in memory (no I/O)."""
        return self.cache.get(record.blob_key)

    def blob_path(self, record: ImageRecord) -> Path | None:
        """A file holding the image's bytes, if the store keeps files (for X-Accel-Redirect)."""
        return self.store.local_path(record.blob_key)

    def blob_url(
        self, record: ImageRecord, *, expires_in: int, cache_control: str, content_disposition: str
    ) -> str | None:
        """A URL where a client can fetch the image's bytes from the store itself, answered
        with these headers, if the store has such URLs (see BlobStore.url)."""
        return self.store.url(
            record.blob_key,
            expires_in=expires_in,
            content_type=record.mime,
            cache_control=cache_control,
            content_disposition=content_disposition,
        )

    def stored_thumbnail(self, record: ImageRecord) -> bytes | None:
        """The thumbnail if it was made already (memory cache, then the blob store)."""
        try:
            return self._cached(thumbnail_key(record.sha256))
        except KeyError:
            return None

    def thumbnail_memory(self, record: ImageRecord) -> int:
        """The bytes of pixels making the thumbnail will decode (headers only)."""
        return thumbnail_memory(self.blob(record))

    def thumbnail(self, record: ImageRecord) -> bytes:
        """Made on first request from the stored image, then kept in the blob store.
        CPU-bound; the HTTP layer runs it once per image, under the image-work limits."""
        data = self.stored_thumbnail(record)  # made meanwhile, by another replica perhaps
        if data is not None:
            return data
        data = make_thumbnail(self.blob(record))
        try:
            self.store.put(thumbnail_key(record.sha256), data)
        except StorageFull:  # reads keep working on a full disk; the next view retries
            log.warning("storage full: thumbnail served without being kept")
        self.cache.put(thumbnail_key(record.sha256), data)
        return data

    def ping(self) -> None:
        """Raises when the catalog does not answer (the health check)."""
        self.catalog.ping()

    def store_ping(self) -> None:
        """Raises when the blob store does not answer (the health check)."""
        self.store.exists("healthz")

    # -- deleting -------------------------------------------------------------------------------
    def delete(self, image_id: str, token: str) -> None:
        record = self.lookup_any(image_id)
        if not token or not ids.token_matches(token, record.delete_token_hash):
            raise Forbidden("This delete token does not match the image.")
        if not self._delete(record.id):  # a delete running at the same time was first
            raise NotFound()

    def lookup_any(self, image_id: str) -> ImageRecord:
        """Like lookup, but removed images are found too (their uploader may still delete them)."""
        if not ids.is_valid_id(image_id):
            raise NotFound()
        record = self.catalog.get(image_id)
        if record is None or record.expired(self.clock()):
            raise NotFound()
        return record

    def _delete(self, image_id: str) -> bool:
        """Commit the delete, then remove the blob it left unused. False if already gone."""
        deleted = self.catalog.delete_image(image_id)
        if deleted is not None and deleted.unused_blob is not None:
            self.remove_unused_blob(deleted.unused_blob)
        return deleted is not None

    def remove_unused_blob(self, key: str) -> None:
        """After a committed delete left `key` without images: remove it, and its thumbnail
        unless another blob of the same bytes is live. No lock is needed: nothing adopts a blob
        without its row (see the catalog). Never raises: a blob that cannot be removed now stays
        as an orphan for the sweep (or `check --repair`)."""
        sha256 = key_sha256(key)
        thumbnail = thumbnail_key(sha256)
        try:
            self.store.delete(key)
            self.catalog.space_freed()
            if self.catalog.live_blob(sha256) is None:
                self.store.delete(thumbnail)  # derived data, remade on demand
        except Exception as exc:
            why = f"{type(exc).__name__}: {next(iter(str(exc).splitlines()), '')}"  # one line
            log.warning("blob %s outlived its images (%s); the sweep will remove it", key, why)
        finally:  # the cache must never serve bytes the store no longer has
            self.cache.discard(key)
            self.cache.discard(thumbnail)

    # -- housekeeping ---------------------------------------------------------------------------
    def purge_expired(self) -> int:
        """Delete every expired upload, a batch of rows per transaction, then the blobs they
        left unused. Safe to run from several replicas at once: a row is deleted by one of them,
        and its blob removed by that one."""
        purged = 0
        while batch := self.catalog.expired_ids(self.clock()):
            deleted = self.catalog.delete_images(batch)
            for gone in deleted:
                if gone.unused_blob is not None:
                    self.remove_unused_blob(gone.unused_blob)
            purged += len(deleted)
        self.catalog.forget_idempotency(self.clock() - IDEMPOTENCY_TTL)
        return purged

    def housekeeping(self) -> tuple[int, int] | None:
        """The periodic sweep: expired uploads, then orphan blobs. With several replicas only
        one runs it at a time (the others return None); running it twice would be safe, only
        wasteful (an orphan sweep lists the whole bucket)."""
        with self.catalog.exclusive("housekeeping") as mine:
            if not mine:
                return None
            return self.purge_expired(), self.orphan_sweep()

    def sweep_orphans(self, grace: float | None = None, page: int = SWEEP_PAGE) -> int:
        """Remove blobs and thumbnails no image uses (left by crashes) once older than `grace`.

        One walk of the store, `page` keys at a time, each page looked up in the catalog with
        one query: memory stays flat however big the store is."""
        if (hold := sweep_guard.hold_reason(self.catalog, self.store)) is not None:
            log.warning(
                "orphan sweep held: %s; the store may hold blobs this catalog never wrote. "
                "After `picdrop-server check`, `picdrop-server sweep --release` lifts the hold",
                hold,
            )
            return 0
        grace = self.settings.orphan_grace if grace is None else grace
        cutoff = self.clock() - grace
        removed = self.store.sweep_temporary(grace)
        listing = iter(self.store.list())
        while listed := list(islice(listing, page)):
            removed += self._sweep_page([b.key for b in listed if b.modified <= cutoff])
        return removed

    def _sweep_page(self, keys: list[str]) -> int:
        thumbnails = {k: key_sha256(k) for k in keys if k.startswith(THUMBNAILS)}
        referenced = self.catalog.referenced_among([k for k in keys if k not in thumbnails])
        in_use = self.catalog.contents_in_use(set(thumbnails.values()))
        # An object with no row cannot gain one (keys are never reused) and this one is older
        # than the grace that covers uploads in flight: no lock needed to delete it.
        unused = [
            k
            for k in keys
            if (thumbnails[k] not in in_use if k in thumbnails else k not in referenced)
        ]
        for key in unused:
            self.store.delete(key)
        if unused:
            self.catalog.space_freed()
        return len(unused)


class ByteCache:
    """A thread-safe LRU of immutable blob bytes, bounded by their total size."""

    def __init__(self, budget: int, max_item: int | None = None) -> None:
        self.budget = budget
        self.max_item = max_item if max_item is not None else budget // 8
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0  # lookups since start (the metrics' hit ratio)

    def get(self, key: str) -> bytes | None:
        with self._lock:
            data = self._items.get(key)
            if data is None:
                self.misses += 1
            else:
                self.hits += 1
                self._items.move_to_end(key)
            return data

    def put(self, key: str, data: bytes) -> None:
        if len(data) > self.max_item:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._size -= len(old)
            self._items[key] = data
            self._size += len(data)
            while self._size > self.budget:
                _, evicted = self._items.popitem(last=False)
                self._size -= len(evicted)

    def discard(self, key: str) -> None:
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._size -= len(old)
