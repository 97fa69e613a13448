"""Housekeeping at scale: expired uploads purged a batch per transaction, the orphan sweep one
paged walk of the store (small sizes here; bench sizes in issue 22)."""

from __future__ import annotations

import hashlib
import os
import time

import pytest
from sqlalchemy import Engine, event

from backend.assembly import build
from backend.service import THUMBNAILS, ImageService, key_sha256, thumbnail_key
from backend.settings import Settings
from backend.storage import FilesystemStore
from tests.backend import imagesamples as samples


@pytest.fixture
def service(tmp_path):
    images = build(Settings(data_dir=tmp_path, sweep_interval=0), migrate=True).images
    yield images
    images.catalog.close()


def upload(service: ImageService, seed: int, expires_at: float | None = None):
    data = samples.unique_jpeg(seed=seed)
    return service.store_upload(
        service.prepare(data),
        request_sha256=hashlib.sha256(data).hexdigest(),
        expires_at=expires_at,
    )


@pytest.fixture
def statements():
    """The SQL statements run while the test runs."""
    seen: list[str] = []

    def record(conn, cursor, statement, *args) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(Engine, "before_cursor_execute", record)
    yield seen
    event.remove(Engine, "before_cursor_execute", record)


def test_expired_uploads_are_purged_a_batch_per_transaction(service, statements):
    expired = [upload(service, seed=4000 + i, expires_at=time.time() - 1) for i in range(12)]
    keep = upload(service, seed=4100)
    statements.clear()

    assert service.purge_expired() == 12

    assert sum(s.startswith("DELETE FROM images") for s in statements) == 1
    assert service.catalog.get(keep.record.id) is not None
    for gone in expired:
        assert service.catalog.get(gone.record.id) is None
        assert not service.store.exists(gone.record.blob_key)
    assert service.store.exists(keep.record.blob_key)


def _age(service: ImageService, key: str, seconds: float) -> None:
    path = service.store.local_path(key)
    then = time.time() - seconds
    os.utime(path, (then, then))


@pytest.mark.parametrize("page", [1, 3, 500])
def test_sweep_pages_through_the_store_and_removes_exactly_the_old_orphans(
    service, statements, monkeypatch, page
):
    kept = [upload(service, seed=5000 + i) for i in range(4)]
    old = [f"{i:02x}/" + f"{i:02x}" * 32 + ".png" for i in range(5)]
    old.append(thumbnail_key("ee" * 32))  # a thumbnail of nothing
    young = ["ff/" + "ff" * 32 + ".png"]
    for key in old + young:
        service.store.put(key, b"left by a crash")
    for key in old + [u.record.blob_key for u in kept]:
        _age(service, key, 7200)
    deleted: list[str] = []
    real_delete = service.store.delete
    monkeypatch.setattr(
        service.store, "delete", lambda key: (deleted.append(key), real_delete(key))
    )
    listed = sum(1 for _ in service.store.list())
    statements.clear()

    assert service.sweep_orphans(grace=3600, page=page) == len(old)

    assert sorted(deleted) == sorted(old)  # each orphan once, nothing else
    lookups = [s for s in statements if s.startswith('SELECT blobs."key" FROM blobs WHERE')]
    assert len(lookups) == -(-listed // page)  # one query per page
    assert all(service.store.exists(u.record.blob_key) for u in kept)
    assert service.store.exists(young[0])


def test_the_periodic_sweep_walks_the_store_in_a_process_of_its_own(tmp_path, monkeypatch):
    """A serving process's housekeeping leaves the walk of the store (its GIL turns and its
    memory) to a child process; the orphans go all the same."""
    backend = build(Settings(data_dir=tmp_path, sweep_interval=0), migrate=True)
    service = backend.images
    try:
        kept = upload(service, seed=6000)
        orphan = "ab/" + "ab" * 32 + ".png"
        service.store.put(orphan, b"left by a crash")
        for key in (orphan, kept.record.blob_key):
            _age(service, key, 7200)
        walks: list[str] = []
        real_list = service.store.list
        monkeypatch.setattr(service.store, "list", lambda: (walks.append("here"), real_list())[1])

        assert service.housekeeping() == (0, 1)

        assert walks == []  # not walked in this process
        assert not service.store.exists(orphan)
        assert service.store.exists(kept.record.blob_key)
    finally:
        backend.close()


@pytest.fixture(params=["filesystem", "s3"])
def any_store(request, tmp_path):
    if request.param == "filesystem":
        return FilesystemStore(tmp_path / "blobs")
    from backend.storage.s3 import S3Store

    server, bucket = request.getfixturevalue("s3_server"), request.getfixturevalue("s3_bucket")
    store = S3Store(bucket, "blobs", **server.store_options())
    store.list_page = 3  # a few keys take several listing requests
    return store


def test_the_sweep_visits_every_key_of_the_store_exactly_once(tmp_path, any_store, monkeypatch):
    backend = build(
        Settings(data_dir=tmp_path / "data", sweep_interval=0), store=any_store, migrate=True
    )
    service, catalog = backend.images, backend.catalog
    try:
        kept = [upload(service, seed=7000 + i) for i in range(3)]
        orphans = [f"{i:02x}/" + f"{i:02x}" * 32 + ".png" for i in range(7)]
        orphans.append(thumbnail_key("ee" * 32))
        for key in orphans:
            any_store.put(key, b"left by a crash")
        stored = [b.key for b in any_store.list()]
        looked_up: list[str] = []
        deleted: list[str] = []
        for name, record in (
            ("referenced_among", looked_up.extend),
            ("contents_in_use", looked_up.extend),
        ):
            real = getattr(catalog, name)
            monkeypatch.setattr(catalog, name, lambda keys, r=real, f=record: (f(keys), r(keys))[1])
        real_delete = any_store.delete
        monkeypatch.setattr(any_store, "delete", lambda k: (deleted.append(k), real_delete(k)))

        assert service.sweep_orphans(grace=0, page=2) == len(orphans)

        # Blobs by key, thumbnails by the content they show: each stored key once, no more.
        expected = [key_sha256(k) if k.startswith(THUMBNAILS) else k for k in stored]
        assert sorted(looked_up) == sorted(expected)
        assert sorted(deleted) == sorted(orphans)
        assert sorted(b.key for b in any_store.list()) == sorted(set(stored) - set(orphans))
        assert all(any_store.exists(u.record.blob_key) for u in kept)
    finally:
        backend.close()
