"""The catalog contract (run against every database the `catalog` fixture provides)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from backend.catalog import Catalog, IdempotencyClaim, IdempotencyRecord, NewImage


@pytest.fixture
def catalog(tmp_path):
    c = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    c.migrate()
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
    assert catalog.count_images() == 0


def test_refcount_brings_the_blob_back_and_deletes_it_last(catalog):
    ensured, deleted = [], []
    a = catalog.add_image(new_image(), ensure_blob=lambda: ensured.append("a"))
    b = catalog.add_image(new_image(), ensure_blob=lambda: ensured.append("b"))
    assert ensured == ["a"]  # only the first reference checks the object
    assert a.id != b.id
    assert catalog.delete_image(a.id, delete_blob=deleted.append)
    assert deleted == []
    assert catalog.delete_image(b.id, delete_blob=deleted.append)
    assert deleted == ["ab/ab.jpg"]
    assert not catalog.delete_image(b.id, delete_blob=deleted.append)
    assert catalog.referenced_blob_keys() == set()


def test_idempotency_claim_wins_once(catalog):
    claim = IdempotencyClaim(key_hash="k" * 64, request_sha256="r" * 64, sealed_token="00")
    first = catalog.add_image(new_image(), ensure_blob=lambda: None, claim=claim)
    second = catalog.add_image(new_image(), ensure_blob=lambda: None, claim=claim)
    assert isinstance(second, IdempotencyRecord)
    assert second.image_id == first.id
    assert catalog.count_images() == 1
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
            assert catalog.delete_image(rec.id, delete_blob=delete)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(work, range(200)))
    assert catalog.count_images() == 100
    live_keys = {r.blob_key for r in catalog.iter_images()}
    assert catalog.referenced_blob_keys() == live_keys
    assert live_keys <= objects
    assert catalog.integrity_check() == "ok"
