"""The blob store contract, run against every implementation (`store` fixture)."""

from __future__ import annotations

import os
import time

import pytest

from backend.storage import FilesystemStore
from backend.storage.filesystem import TMP_PREFIX


@pytest.fixture
def store(tmp_path):
    return FilesystemStore(tmp_path / "blobs")


def test_put_get_exists_delete(store):
    store.put("ab/abcdef.jpg", b"hello")
    assert store.exists("ab/abcdef.jpg")
    assert store.get("ab/abcdef.jpg") == b"hello"
    store.put("ab/abcdef.jpg", b"hello")  # same key again: fine
    assert [b.key for b in store.list()] == ["ab/abcdef.jpg"]
    store.delete("ab/abcdef.jpg")
    store.delete("ab/abcdef.jpg")  # missing: fine
    assert not store.exists("ab/abcdef.jpg")
    with pytest.raises(KeyError):
        store.get("ab/abcdef.jpg")


@pytest.mark.parametrize("key", ["", "/etc/passwd", "../x", "a/../../x", ".hidden", "a\\b"])
def test_odd_keys_are_refused(store, key):
    with pytest.raises(ValueError):
        store.put(key, b"x")


def test_leftover_temporary_files_are_swept_and_never_listed(store):
    store.put("ab/one.png", b"1")
    leftover = store.root / "ab" / f"{TMP_PREFIX}two.png.123.456"
    leftover.write_bytes(b"partial")
    old = time.time() - 7200
    os.utime(leftover, (old, old))
    assert [b.key for b in store.list()] == ["ab/one.png"]
    assert store.sweep_temporary(older_than=3600) == 1
    assert not leftover.exists()
    assert store.exists("ab/one.png")


def test_write_is_atomic_no_partial_file_on_failure(store, monkeypatch):
    def failing_fsync(fd):
        raise OSError(5, "I/O error")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError):
        store.put("cd/cdef.png", b"data")
    monkeypatch.undo()
    assert not store.exists("cd/cdef.png")
    assert list((store.root / "cd").iterdir()) == []
