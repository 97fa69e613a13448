"""The catalog contract, run against SQLite and against a real PostgreSQL (`catalog_url`).

Several `Catalog` objects on one database stand for several replicas (processes) sharing it.
"""

from __future__ import annotations

import contextlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from backend.catalog import (
    BlobGone,
    Catalog,
    Deleted,
    IdempotencyClaim,
    IdempotencyRecord,
    NewImage,
)
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


def test_uploads_of_the_same_bytes_share_the_live_blob_and_the_last_delete_frees_it(catalog):
    a = catalog.add_image(new_image("ab/ab.1.jpg"), written=True)
    # A second upload wrote its own copy: the live blob is adopted, its copy is left unused.
    b = catalog.add_image(new_image("ab/ab.2.jpg"), written=True)
    c = catalog.add_image(new_image(catalog.live_blob("ab")), written=False)
    assert a.blob_key == b.blob_key == c.blob_key == "ab/ab.1.jpg"
    assert len({a.id, b.id, c.id}) == 3
    assert catalog.delete_image(a.id) == Deleted(unused_blob=None)
    assert catalog.delete_image(c.id) == Deleted(unused_blob=None)
    assert catalog.delete_image(b.id) == Deleted(unused_blob="ab/ab.1.jpg")
    assert catalog.delete_image(b.id) is None
    assert catalog.referenced_blob_keys() == set() and catalog.live_blob("ab") is None


def test_a_delete_commits_without_touching_any_object(catalog):
    """The catalog's delete removes rows only; the caller removes the object after the commit."""
    a = catalog.add_image(new_image("ab/ab.1.jpg"), written=True)
    assert catalog.delete_image(a.id) == Deleted(unused_blob="ab/ab.1.jpg")
    assert catalog.get(a.id) is None
    assert catalog.referenced_blob_keys() == set() and catalog.contents_in_use({"ab"}) == set()


def test_a_blob_whose_last_image_went_meanwhile_is_never_adopted(catalog, replica):
    """An upload found the live blob, then its last image was deleted (its object may be on the
    way out): adopting it fails, nothing is added, and the upload writes its bytes afresh."""
    a = catalog.add_image(new_image("ab/ab.1.jpg"), written=True)
    found = replica.live_blob("ab")
    assert catalog.delete_image(a.id).unused_blob == found
    with pytest.raises(BlobGone):
        replica.add_image(new_image(found), written=False)
    assert image_records(catalog) == [] and catalog.referenced_blob_keys() == set()
    fresh = replica.add_image(new_image("ab/ab.2.jpg"), written=True)
    assert catalog.referenced_blob_keys() == {fresh.blob_key} == {"ab/ab.2.jpg"}


def test_idempotency_claim_wins_once(catalog):
    claim = IdempotencyClaim(key_hash="k" * 64, request_sha256="r" * 64, sealed_token="00")
    first = catalog.add_image(new_image(), written=True, claim=claim)
    second = catalog.add_image(new_image(), written=False, claim=claim)
    assert isinstance(second, IdempotencyRecord)
    assert second.image_id == first.id
    assert len(image_records(catalog)) == 1
    assert catalog.referenced_blob_keys() == {"ab/ab.jpg"}


def test_id_collisions_are_retried(catalog, monkeypatch):
    from backend import ids

    draws = iter(["AAAAAAAAAA", "AAAAAAAAAA", "BBBBBBBBBB"])
    monkeypatch.setattr(ids, "new_id", lambda length=10: next(draws))
    a = catalog.add_image(new_image(), written=True)
    b = catalog.add_image(new_image("cd/cd.jpg"), written=True)
    assert (a.id, b.id) == ("AAAAAAAAAA", "BBBBBBBBBB")


def test_uploads_and_deletes_racing_never_leave_an_image_without_its_object(catalog, replica):
    """The service's protocol from many threads on two replicas, objects in a set: adopt the live
    blob or write a fresh key; remove an object only after the commit that left it unused. Every
    live image keeps its object, counts add up, and nothing waits on 'database is locked'."""
    lock = threading.Lock()
    objects: set[str] = set()
    written = iter(range(10**6))

    def upload(c: Catalog, sha: str):
        live = c.live_blob(sha)
        if live is not None:
            with contextlib.suppress(BlobGone):
                return c.add_image(new_image(live), written=False)
        with lock:
            key = f"{sha[:2]}/{sha}.{next(written)}.jpg"
            objects.add(key)
        record = c.add_image(new_image(key), written=True)
        if record.blob_key != key:
            with lock:
                objects.discard(key)
        return record

    def work(i: int) -> None:
        c = (catalog, replica)[i % 2]
        record = upload(c, f"k{i % 5}")
        if i % 2:
            deleted = c.delete_image(record.id)
            assert deleted is not None
            if deleted.unused_blob:
                with lock:
                    objects.discard(deleted.unused_blob)

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
        rec = catalog.add_image(new_image(f"d{i}/d{i}.jpg"), written=True)
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


def test_concurrent_uploads_of_the_same_bytes_share_what_they_can(catalog, replica):
    """Eight uploads of one picture at once, each with its own fresh copy: those that commit
    after another adopt its blob (on SQLite all of them: writers are serialized). Whatever they
    share, each blob is freed by exactly the delete of its last image."""
    barrier = threading.Barrier(8)

    def upload(i: int):
        barrier.wait()
        return (catalog, replica)[i % 2].add_image(new_image(f"ee/ee.{i}.jpg"), written=True)

    with ThreadPoolExecutor(max_workers=8) as pool:
        records = list(pool.map(upload, range(8)))
    assert len({r.id for r in records}) == 8
    shared = {r.blob_key for r in records}
    if catalog.is_sqlite:
        assert len(shared) == 1
    unused = [catalog.delete_image(rec.id).unused_blob for rec in records]
    assert sorted(k for k in unused if k) == sorted(shared)
    assert catalog.referenced_blob_keys() == set()


def test_expired_uploads_purged_by_two_replicas_at_once(catalog, replica):
    now = time.time()
    for i in range(60):
        catalog.add_image(new_image(f"x{i % 7}/x{i % 7}.jpg", expires_at=now - 1), written=True)
    catalog.add_image(new_image("keep/keep.jpg"), written=True)
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
            # PostgreSQL: an advisory lock; SQLite: a file lock beside the database.
            assert not second
        with replica.exclusive("something-else") as other:
            assert other
    with replica.exclusive("housekeeping") as again:
        assert again


def test_exclusive_is_released_when_the_holder_fails(catalog, replica):
    with pytest.raises(RuntimeError), catalog.exclusive("housekeeping"):
        raise RuntimeError("sweep failed")
    with replica.exclusive("housekeeping") as got:
        assert got
