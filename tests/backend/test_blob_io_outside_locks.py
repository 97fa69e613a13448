"""No blob I/O while a database write lock is held (write before the row, delete after the commit).

A store that, on every call, checks from a separate connection whether SQLite's write lock is
free: the upload, adopt, delete, takedown, sweep and repair paths must never touch the store while
the catalog holds it (on PostgreSQL the same order keeps row locks free of S3 round trips).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from backend import consistency
from backend.assembly import build
from backend.settings import Settings
from backend.storage import BlobStore, store_from_settings
from tests.backend import imagesamples as samples


class LockWatchingStore:
    """Delegates to a real store; records each call made while the catalog's write lock is held."""

    def __init__(self, store: BlobStore, database: Path) -> None:
        self.store = store
        self.database = database
        self.calls: list[str] = []
        self.under_lock: list[str] = []

    def _watch(self, name: str, key: str) -> None:
        self.calls.append(name)
        probe = sqlite3.connect(self.database, timeout=0, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
        except sqlite3.OperationalError as exc:
            assert "locked" in str(exc)
            self.under_lock.append(f"{name} {key}")
        finally:
            probe.close()

    def put(self, key: str, data: bytes) -> None:
        self._watch("put", key)
        self.store.put(key, data)

    def get(self, key: str) -> bytes:
        self._watch("get", key)
        return self.store.get(key)

    def exists(self, key: str) -> bool:
        self._watch("exists", key)
        return self.store.exists(key)

    def delete(self, key: str) -> None:
        self._watch("delete", key)
        self.store.delete(key)

    def __getattr__(self, name: str):  # list, local_path, url, sweep_temporary: not watched
        return getattr(self.store, name)


@pytest.fixture
def watched(tmp_path):
    settings = Settings(data_dir=tmp_path, sweep_interval=0, orphan_grace=0)
    store = LockWatchingStore(store_from_settings(settings), tmp_path / "picdrop.db")
    backend = build(settings, store=store, migrate=True)
    yield backend, store
    backend.close()


def upload(backend, data: bytes):
    return backend.images.store_upload(
        backend.images.prepare(data), request_sha256="0" * 64, expires_at=None
    )


def test_no_store_call_happens_under_the_catalog_write_lock(watched):
    backend, store = watched
    picture, other = samples.unique_jpeg(), samples.unique_jpeg()
    upload(backend, samples.unique_jpeg())  # stays: a catalog using no blob holds its sweep
    first = upload(backend, picture)  # fresh write, then the row
    again = upload(backend, picture)  # adopts the live blob
    assert again.record.blob_key == first.record.blob_key
    backend.images.delete(first.record.id, first.delete_token)
    backend.images.delete(again.record.id, again.delete_token)  # last one: removed after commit
    assert not backend.store.exists(first.record.blob_key)
    taken = upload(backend, other)
    backend.moderation.remove(taken.record.id, actor="test")  # takedown frees the blob
    for orphan in ("ab/" + "ab" * 32 + ".png", "cd/" + "cd" * 32 + ".png"):
        store.put(orphan, b"orphan")
        if orphan.startswith("ab"):
            assert backend.images.sweep_orphans(grace=0) == 1
        else:
            consistency.check(backend.catalog, store, grace=0, repair=True)
        assert not backend.store.exists(orphan)
    assert {"put", "exists", "delete"} <= set(store.calls)
    assert store.under_lock == []
