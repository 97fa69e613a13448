"""The catalog contract, run against SQLite and against a real PostgreSQL (`catalog_url`).

Several `Catalog` objects on one database stand for several replicas (processes) sharing it.
"""

from __future__ import annotations

import errno
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from backend.catalog import Catalog, Deleted, IdempotencyClaim, IdempotencyRecord, NewImage
from tests.catalog_rows import image_records


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.db'}"
    return request.getfixturevalue("pg_url")  # a fresh database on the session's server


@pytest.fixture
def catalog(catalog_url):
    c = Catalog(catalog_url)
    c.migrate()
    yield c
    c.close()


@pytest.fixture
def replica(catalog_url, catalog):
    """A second process's view of the same database (after `catalog` has migrated it)."""
    c = Catalog(catalog_url)
    yield c
    c.close()


def new_image(key: str = "ab/ab.jpg", **kw) -> NewImage:
    values = dict(
        blob_key=key,
        sha256=key.split("/")[-1].split(".")[0],
        mime="image/jpeg",
        ext="jpg",
        width=10,
        height=10,
        size=100,
        frames=1,
        delete_token_hash="0" * 64,
        expires_at=None,
    )
    values.update(kw)
    return NewImage(**values)


def test_migrate_is_idempotent(catalog):
    catalog.migrate()
    assert len(image_records(catalog)) == 0


def test_refcount_brings_the_blob_back_and_deletes_it_last(catalog):
    ensured = []
    a = catalog.add_image(new_image(), ensure_blob=lambda: ensured.append("a"))
    b = catalog.add_image(new_image(), ensure_blob=lambda: ensured.append("b"))
    assert ensured == ["a"]  # only the first reference checks the object
    assert a.id != b.id
    assert catalog.delete_image(a.id) == Deleted(unused_blob=None)
    assert catalog.delete_image(b.id) == Deleted(unused_blob="ab/ab.jpg")
    assert catalog.delete_image(b.id) is None
    assert catalog.referenced_blob_keys() == set()


def test_a_delete_commits_before_any_object_is_touched(catalog):
    """The catalog's delete removes rows only; the object goes afterwards, under the placeholder,
    and an object that cannot be deleted leaves the catalog as it was (the row stays deleted)."""
    objects = {"ab/ab.jpg"}
    a = catalog.add_image(new_image(), ensure_blob=lambda: None)
    deleted = catalog.delete_image(a.id)
    assert catalog.get(a.id) is None and objects == {"ab/ab.jpg"}  # committed, object untouched

    def failing_delete(key: str) -> None:
        raise OSError(errno.EIO, "the disk said no")

    with pytest.raises(OSError):
        catalog.delete_blob_if_unreferenced(deleted.unused_blob, failing_delete)
    assert catalog.get(a.id) is None
    assert catalog.referenced_blob_keys() == set()  # no placeholder left behind
    assert catalog.delete_blob_if_unreferenced(deleted.unused_blob, objects.discard)
    assert objects == set()


def test_an_upload_adopting_the_bytes_between_commit_and_removal_keeps_them(catalog, replica):
    objects = {"ab/ab.jpg"}
    a = catalog.add_image(new_image(), ensure_blob=lambda: None)
    deleted = catalog.delete_image(a.id)
    b = replica.add_image(new_image(), ensure_blob=lambda: None)  # found the object: no write
    assert not catalog.delete_blob_if_unreferenced(deleted.unused_blob, objects.discard)
    assert objects == {"ab/ab.jpg"}
    assert catalog.get(b.id) is not None


def test_idempotency_claim_wins_once(catalog):
    claim = IdempotencyClaim(key_hash="k" * 64, request_sha256="r" * 64, sealed_token="00")
    first = catalog.add_image(new_image(), ensure_blob=lambda: None, claim=claim)
    second = catalog.add_image(new_image(), ensure_blob=lambda: None, claim=claim)
    assert isinstance(second, IdempotencyRecord)
    assert second.image_id == first.id
    assert len(image_records(catalog)) == 1
    assert catalog.referenced_blob_keys() == {"ab/ab.jpg"}


def test_id_collisions_are_retried(catalog, monkeypatch):
    from backend import ids

    draws = iter(["AAAAAAAAAA", "AAAAAAAAAA", "BBBBBBBBBB"])
    monkeypatch.setattr(ids, "new_id", lambda length=10: next(draws))
    a = catalog.add_image(new_image(), ensure_blob=lambda: None)
    b = catalog.add_image(new_image("cd/cd.jpg"), ensure_blob=lambda: None)
    assert (a.id, b.id) == ("AAAAAAAAAA", "BBBBBBBBBB")


def test_concurrent_adds_and_deletes_keep_counts_right(catalog):
    """Writers from many threads: no 'database is locked', refcounts add up."""
    lock = threading.Lock()
    objects: set[str] = set()

    def ensure(key):
        with lock:
            objects.add(key)

    def delete(key):
        with lock:
            objects.discard(key)

    def work(i: int) -> None:
        key = f"k{i % 5}/k{i % 5}.jpg"
        rec = catalog.add_image(new_image(key), ensure_blob=lambda: ensure(key))
        if i % 2:
            deleted = catalog.delete_image(rec.id)
            assert deleted is not None
            if deleted.unused_blob:
                catalog.delete_blob_if_unreferenced(deleted.unused_blob, delete)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(work, range(200)))
    assert len(image_records(catalog)) == 100
    live_keys = {r.blob_key for r in image_records(catalog)}
    assert catalog.referenced_blob_keys() == live_keys
    assert live_keys <= objects
    assert catalog.integrity_check() == "ok"


def test_replicas_starting_at_once_migrate_once(catalog_url):
    """Two processes run the migrations on an empty database at the same moment."""
    catalogs = [Catalog(catalog_url) for _ in range(3)]
    barrier = threading.Barrier(len(catalogs))

    def start(c: Catalog) -> None:
        barrier.wait()
        c.migrate()

    try:
        with ThreadPoolExecutor(max_workers=len(catalogs)) as pool:
            list(pool.map(start, catalogs))  # re-raises a failed migration
        assert all(len(image_records(c)) == 0 for c in catalogs)
    finally:
        for c in catalogs:
            c.close()


def test_one_image_deleted_from_two_replicas_at_once(catalog, replica):
    deleted: list[str] = []
    for i in range(20):
        rec = catalog.add_image(new_image(f"d{i}/d{i}.jpg"), ensure_blob=lambda: None)
        barrier = threading.Barrier(2)

        def delete(c: Catalog, image_id: str = rec.id, barrier=barrier) -> bool:
            barrier.wait()
            result = c.delete_image(image_id)
            if result is not None:
                deleted.append(result.unused_blob)
            return result is not None

        with ThreadPoolExecutor(max_workers=2) as pool:
            results = list(pool.map(delete, [catalog, replica]))
        assert sorted(results) == [False, True]
    assert sorted(deleted) == sorted(f"d{i}/d{i}.jpg" for i in range(20))  # each exactly once
    assert catalog.referenced_blob_keys() == set()


def test_concurrent_uploads_of_the_same_bytes_write_the_object_once(catalog, replica):
    ensured: list[str] = []
    barrier = threading.Barrier(8)

    def upload(i: int):
        barrier.wait()
        c = (catalog, replica)[i % 2]
        return c.add_image(new_image("ee/ee.jpg"), ensure_blob=lambda: ensured.append("x"))

    with ThreadPoolExecutor(max_workers=8) as pool:
        records = list(pool.map(upload, range(8)))
    assert len({r.id for r in records}) == 8
    assert ensured == ["x"]  # only the upload that took the count from zero
    unused = [catalog.delete_image(rec.id).unused_blob for rec in records]
    assert unused == [None] * 7 + ["ee/ee.jpg"]  # and only the last delete frees it


def test_orphan_sweep_and_upload_of_the_same_bytes_race(catalog, replica):
    """The sweep deletes an unreferenced object while an upload of the same bytes commits: the
    upload must end up with its object (written again), never with a row whose blob is gone."""
    key = "ff/ff.jpg"
    objects = {key}  # the orphan, already in the store
    deleting = threading.Event()

    def slow_delete(k: str) -> None:
        deleting.set()
        time.sleep(0.3)  # the upload arrives meanwhile
        objects.discard(k)

    def ensure() -> None:
        if key not in objects:
            objects.add(key)

    def upload():
        assert deleting.wait(5)
        return replica.add_image(new_image(key), ensure_blob=ensure)

    with ThreadPoolExecutor(max_workers=2) as pool:
        swept = pool.submit(catalog.delete_blob_if_unreferenced, key, slow_delete)
        added = pool.submit(upload)
        assert swept.result() is True
        record = added.result()
    assert key in objects
    assert catalog.referenced_blob_keys() == {key}
    assert catalog.get(record.id) is not None
    # And once referenced, the sweep leaves it alone.
    assert not catalog.delete_blob_if_unreferenced(key, objects.discard)
    assert key in objects


def test_expired_uploads_purged_by_two_replicas_at_once(catalog, replica):
    now = time.time()
    for i in range(60):
        catalog.add_image(
            new_image(f"x{i % 7}/x{i % 7}.jpg", expires_at=now - 1), ensure_blob=lambda: None
        )
    catalog.add_image(new_image("keep/keep.jpg"), ensure_blob=lambda: None)
    deleted: list[str] = []
    barrier = threading.Barrier(2)

    def purge(c: Catalog) -> int:
        barrier.wait()
        purged = 0
        while batch := c.expired_ids(time.time(), limit=10):
            for image_id in batch:
                result = c.delete_image(image_id)
                purged += result is not None
                if result is not None and result.unused_blob:
                    deleted.append(result.unused_blob)
        return purged

    with ThreadPoolExecutor(max_workers=2) as pool:
        counts = list(pool.map(purge, [catalog, replica]))
    assert sum(counts) == 60
    assert sorted(deleted) == sorted(f"x{i}/x{i}.jpg" for i in range(7))
    assert catalog.referenced_blob_keys() == {"keep/keep.jpg"}


def test_exclusive_admits_one_replica_at_a_time(catalog, replica):
    with catalog.exclusive("housekeeping") as first:
        assert first
        with replica.exclusive("housekeeping") as second:
            # PostgreSQL: an advisory lock across processes. SQLite: one machine, always yes.
            assert second is (not catalog.is_postgresql)
        with replica.exclusive("something-else") as other:
            assert other
    with replica.exclusive("housekeeping") as again:
        assert again


def test_exclusive_is_released_when_the_holder_fails(catalog, replica):
    with pytest.raises(RuntimeError), catalog.exclusive("housekeeping"):
        raise RuntimeError("sweep failed")
    with replica.exclusive("housekeeping") as got:
        assert got
