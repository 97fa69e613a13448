"""The blob store contract, run against every implementation (`store` fixture): the filesystem
store, and the S3 store talking over HTTP to an S3 protocol server that the fixture starts."""

from __future__ import annotations

import errno
import hashlib
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from backend.storage import (
    FallbackStore,
    FilesystemStore,
    StorageFull,
    StorageUnavailable,
    open_store,
)
from backend.storage.filesystem import TMP_PREFIX


@pytest.fixture(params=["filesystem", "s3"])
def store(request, tmp_path):
    if request.param == "filesystem":
        return FilesystemStore(tmp_path / "blobs")
    return request.getfixturevalue("s3_store")


@pytest.fixture
def s3_store(s3_server, s3_bucket):
    from backend.storage.s3 import S3Store

    return S3Store(s3_bucket, "blobs", **s3_server.store_options())


@pytest.fixture
def fs_store(tmp_path):
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


def test_leftover_temporary_files_are_swept_and_never_listed(fs_store):
    store = fs_store
    store.put("ab/one.png", b"1")
    leftover = store.root / "ab" / f"{TMP_PREFIX}two.png.123.456"
    leftover.write_bytes(b"partial")
    old = time.time() - 7200
    os.utime(leftover, (old, old))
    assert [b.key for b in store.list()] == ["ab/one.png"]
    assert store.sweep_temporary(older_than=3600) == 1
    assert not leftover.exists()
    assert store.exists("ab/one.png")


@pytest.mark.parametrize(
    "error, raised",
    [
        (errno.EIO, StorageUnavailable),
        (errno.EROFS, StorageUnavailable),
        (errno.EACCES, StorageUnavailable),
        (errno.ENOSPC, StorageFull),
        (errno.EDQUOT, StorageFull),
        (errno.EINVAL, OSError),
    ],
)
def test_write_is_atomic_no_partial_file_on_failure(fs_store, monkeypatch, error, raised):
    """A failed write leaves nothing; the store says 'full' or 'unavailable' when it means so."""
    store = fs_store

    def failing_fsync(fd):
        raise OSError(error, os.strerror(error))

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(raised) as caught:
        store.put("cd/cdef.png", b"data")
    assert raised is OSError or not isinstance(caught.value, OSError)
    monkeypatch.undo()
    assert not store.exists("cd/cdef.png")
    assert list((store.root / "cd").iterdir()) == []


def test_list_gives_sizes_and_times(store):
    before = time.time()
    store.put("ab/one.png", b"1")
    store.put("cd/two.jpg", b"22")
    store.put("thumbs/ab/one.webp", b"333")
    listed = {b.key: b for b in store.list()}
    assert {k: b.size for k, b in listed.items()} == {
        "ab/one.png": 1,
        "cd/two.jpg": 2,
        "thumbs/ab/one.webp": 3,
    }
    for blob in listed.values():  # S3 keeps whole seconds
        assert before - 2 <= blob.modified <= time.time() + 2


def test_big_blob_round_trip(store):
    data = os.urandom(3 * 1024 * 1024 + 17)
    store.put("big/blob.png", data)
    assert store.get("big/blob.png") == data


def test_concurrent_puts_of_one_key_leave_one_whole_copy(store):
    data = os.urandom(256 * 1024)
    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(lambda _: store.put("ab/same.png", data), range(12)))
    assert store.get("ab/same.png") == data
    assert [b.key for b in store.list()] == ["ab/same.png"]


def test_local_path_only_where_there_is_a_file(store):
    store.put("ab/abc.png", b"png")
    path = store.local_path("ab/abc.png")
    if isinstance(store, FilesystemStore):
        assert path is not None and path.read_bytes() == b"png"
    else:
        assert path is None


@pytest.mark.parametrize("kind", ["filesystem", "fallback"])
def test_stores_without_urls_of_their_own_say_so(tmp_path, kind):
    """Such a store's images reach clients through the app (or nginx), never by a redirect."""
    store = FilesystemStore(tmp_path / "new")
    if kind == "fallback":
        store = FallbackStore(store, FilesystemStore(tmp_path / "old"))
    store.put("ab/abc.png", b"png")
    assert store.url("ab/abc.png", expires_in=60, content_type="image/png") is None


# -- S3 only -------------------------------------------------------------------------------------
def test_s3_keys_live_under_the_prefix_and_stores_do_not_see_each_other(s3_server, s3_bucket):
    from backend.storage.s3 import S3Store

    a = S3Store(s3_bucket, "one", **s3_server.store_options())
    b = S3Store(s3_bucket, "two/", **s3_server.store_options())
    a.put("ab/x.png", b"a")
    b.put("ab/x.png", b"b")
    raw = s3_server.client().list_objects_v2(Bucket=s3_bucket)["Contents"]
    assert sorted(o["Key"] for o in raw) == ["one/ab/x.png", "two/ab/x.png"]
    assert [i.key for i in a.list()] == ["ab/x.png"]
    assert a.get("ab/x.png") == b"a" and b.get("ab/x.png") == b"b"
    head = s3_server.client().head_object(Bucket=s3_bucket, Key="one/ab/x.png")
    assert head["ContentType"] == "image/png"
    assert "immutable" in head["CacheControl"]


def test_s3_store_from_url_and_settings(s3_server, s3_bucket):
    url = f"s3://{s3_bucket}/pre/fix?endpoint={s3_server.endpoint_url}&region=eu-west-1"
    store = open_store(
        url,
        access_key_id=s3_server.access_key,
        secret_access_key=s3_server.secret_key,
        endpoint_url="http://127.0.0.1:1",  # the URL's own endpoint wins
    )
    store.put("ab/c.gif", b"gif")
    assert s3_server.client().get_object(Bucket=s3_bucket, Key="pre/fix/ab/c.gif")["Body"].read()
    assert store.client.meta.region_name == "eu-west-1"
    with pytest.raises(ValueError, match="unknown option"):
        open_store(f"s3://{s3_bucket}?colour=blue")


def test_s3_multipart_put_is_complete_or_absent(s3_server, s3_bucket, monkeypatch):
    from backend.storage.s3 import S3Store

    mib = 1024 * 1024
    store = S3Store(
        s3_bucket, "mp", multipart_threshold=6 * mib, part_size=5 * mib,
        **s3_server.store_options(),
    )  # fmt: skip
    data = os.urandom(11 * mib + 5)
    store.put("ab/big.png", data)  # three parts
    assert hashlib.sha256(store.get("ab/big.png")).digest() == hashlib.sha256(data).digest()

    real_upload_part = store.client.upload_part
    calls = []

    def failing_upload_part(**kw):
        calls.append(kw["PartNumber"])
        if kw["PartNumber"] == 2:
            raise ConnectionError("network gone")
        return real_upload_part(**kw)

    monkeypatch.setattr(store.client, "upload_part", failing_upload_part)
    with pytest.raises(ConnectionError):
        store.put("cd/broken.png", data)
    assert calls == [1, 2]
    assert not store.exists("cd/broken.png")  # no partial object, ever
    pending = store.client.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", [])
    assert pending == []  # and the failed upload was aborted


def test_s3_sweep_aborts_abandoned_multipart_uploads(s3_server, s3_bucket):
    from backend.storage.s3 import S3Store

    store = S3Store(s3_bucket, "blobs", **s3_server.store_options())
    client = s3_server.client()
    client.create_multipart_upload(Bucket=s3_bucket, Key="blobs/ab/crashed.png")
    client.create_multipart_upload(Bucket=s3_bucket, Key="elsewhere/x.png")  # not our prefix
    # moto reports every upload as initiated long ago, so any grace of an hour has passed.
    assert store.sweep_temporary(older_than=3600) == 1
    left = client.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", [])
    assert [u["Key"] for u in left] == ["elsewhere/x.png"]


def test_s3_presigned_url_serves_the_object_with_our_headers(s3_store):
    s3_store.put("ab/pic.jpg", b"jpeg bytes")
    url = s3_store.url(
        "ab/pic.jpg",
        expires_in=60,
        content_type="image/jpeg",
        cache_control="public, max-age=60",
        content_disposition='inline; filename="AbCdEfGhIj.jpg"',
    )
    r = requests.get(url, timeout=10)
    assert r.status_code == 200
    assert r.content == b"jpeg bytes"
    assert r.headers["content-type"] == "image/jpeg"
    assert r.headers["cache-control"] == "public, max-age=60"
    assert "X-Amz-Signature=" in url  # Signature Version 4


def test_s3_public_url(s3_server, s3_bucket):
    from backend.storage.s3 import S3Store

    store = S3Store(s3_bucket, "p", public_url="https://cdn.example/", **s3_server.store_options())
    assert store.url("ab/x.png", expires_in=60) == "https://cdn.example/p/ab/x.png"


def _client_error(code: str):
    from botocore.exceptions import ClientError

    return ClientError({"Error": {"Code": code, "Message": "no"}}, "PutObject")


def _unreachable():
    from botocore.exceptions import EndpointConnectionError

    return EndpointConnectionError(endpoint_url="http://127.0.0.1:9")


@pytest.mark.parametrize(
    "call, error, raised",
    [
        ("put_object", lambda: _client_error("QuotaExceeded"), StorageFull),
        ("put_object", lambda: _client_error("ServiceUnavailable"), StorageUnavailable),
        ("put_object", lambda: _client_error("AccessDenied"), StorageUnavailable),
        ("put_object", _unreachable, StorageUnavailable),
        ("get_object", lambda: _client_error("SlowDown"), StorageUnavailable),
        ("get_object", _unreachable, StorageUnavailable),
    ],
)
def test_s3_errors_mean_full_or_unavailable(s3_store, monkeypatch, call, error, raised):
    def failing(**_kw):
        raise error()

    monkeypatch.setattr(s3_store.client, call, failing)
    with pytest.raises(raised):
        if call == "put_object":
            s3_store.put("ab/x.png", b"x")
        else:
            s3_store.get("ab/x.png")


def test_s3_store_is_safe_across_threads(s3_store):
    errors = []

    def work(i: int) -> None:
        try:
            key = f"{i:02x}/{i}.png"
            s3_store.put(key, str(i).encode())
            assert s3_store.get(key) == str(i).encode()
            s3_store.delete(key)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert list(s3_store.list()) == []


@pytest.mark.parametrize("ending", ["cut", "stalled"])
def test_s3_body_that_breaks_off_means_unavailable(ending):
    """An object store that answers the headers and then cuts the body short, or stops sending
    it: the store says it is unavailable (a 503 upstream), never a raw botocore error (a 500)."""
    import socket

    from backend.storage.s3 import S3Store

    listener = socket.create_server(("127.0.0.1", 0))
    done = threading.Event()

    def serve() -> None:
        with listener:
            while not done.is_set():
                try:
                    conn, _ = listener.accept()
                except OSError:
                    return
                with conn:
                    conn.recv(65536)
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"x" * 10)
                    if ending == "stalled":
                        done.wait(10)

    threading.Thread(target=serve, daemon=True).start()
    host, port = listener.getsockname()
    store = S3Store(
        "bucket",
        endpoint_url=f"http://{host}:{port}",
        access_key_id="k",
        secret_access_key="s",
        region="us-east-1",
        read_timeout=1,
        max_attempts=1,
    )
    try:
        with pytest.raises(StorageUnavailable):
            store.get("ab/x.png")
    finally:
        done.set()
        listener.close()
