"""The whole service on the scale-out engines: catalog in PostgreSQL, blobs in S3 (moto over
HTTP), a real server in this process. Same code as the default setup; only settings differ."""

from __future__ import annotations

import dataclasses
import hashlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from backend.assembly import build
from backend.server import EmbeddedServer
from backend.service import ImageService
from backend.settings import Settings
from backend.storage import FallbackStore
from backend.storage.s3 import S3Store
from tests.backend import imagesamples as samples
from tests.catalog_rows import image_records, matches_blob_key


@pytest.fixture
def scaled_settings(data_dir, pg_url, s3_server, s3_bucket) -> Settings:
    return Settings(
        data_dir=data_dir,
        host="127.0.0.1",
        port=0,
        sweep_interval=0,
        database_url=pg_url,
        storage_url=f"s3://{s3_bucket}/blobs",
        s3_endpoint_url=s3_server.endpoint_url,
        s3_region=s3_server.region,
        s3_access_key_id=s3_server.access_key,
        s3_secret_access_key=s3_server.secret_key,
    )


def _serve(settings: Settings):
    server = EmbeddedServer(settings)
    server.start()
    return server


@pytest.fixture
def scaled_server(scaled_settings):
    server = _serve(scaled_settings)
    yield server
    server.stop()


def _objects(s3_server, bucket: str) -> list[str]:
    listed = s3_server.client().list_objects_v2(Bucket=bucket).get("Contents", [])
    return sorted(o["Key"] for o in listed)


def test_upload_serve_thumbnail_delete_on_postgres_and_s3(scaled_server, s3_server, s3_bucket):
    assert isinstance(scaled_server.app.state.service.store, S3Store)
    assert scaled_server.app.state.service.catalog.is_postgresql
    data = samples.unique_jpeg(size=(400, 300))
    r = requests.post(f"{scaled_server.url}/api/upload", files={"file": ("a.jpg", data)})
    assert r.status_code == 201, r.text
    body = r.json()
    sha = body["sha256"]
    [stored] = _objects(s3_server, s3_bucket)
    assert matches_blob_key(stored, sha, "jpg", prefix="blobs/")

    served = requests.get(body["url"], timeout=30)
    assert served.status_code == 200
    assert hashlib.sha256(served.content).hexdigest() == sha
    assert served.headers["content-type"] == "image/jpeg"
    assert served.headers["etag"] == f'"{sha}"'
    assert "immutable" in served.headers["cache-control"]
    assert served.headers["x-content-type-options"] == "nosniff"
    ranged = requests.get(body["url"], headers={"Range": "bytes=0-9"}, timeout=30)
    assert ranged.status_code == 206 and ranged.content == served.content[:10]

    thumb = requests.get(body["thumbnail_url"], timeout=30)
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/webp"
    assert f"blobs/thumbs/{sha[:2]}/{sha}.webp" in _objects(s3_server, s3_bucket)

    gone = requests.delete(
        f"{scaled_server.url}/api/images/{body['id']}",
        headers={"Authorization": f"Bearer {body['delete_token']}"},
        timeout=30,
    )
    assert gone.status_code == 204
    assert requests.get(body["url"], timeout=30).status_code == 404
    assert _objects(s3_server, s3_bucket) == []  # the blob and its thumbnail


def test_same_bytes_twice_share_one_object(scaled_server, s3_server, s3_bucket):
    data = samples.unique_jpeg()
    first, second = (
        requests.post(f"{scaled_server.url}/api/upload", files={"file": ("a.jpg", data)}).json()
        for _ in range(2)
    )
    assert first["id"] != second["id"]
    assert len(_objects(s3_server, s3_bucket)) == 1
    requests.delete(
        f"{scaled_server.url}/api/images/{first['id']}",
        headers={"Authorization": f"Bearer {first['delete_token']}"},
    )
    assert requests.get(second["url"]).status_code == 200
    assert len(_objects(s3_server, s3_bucket)) == 1


def test_many_concurrent_uploads_on_postgres_and_s3(scaled_server, scaled_settings):
    files = [samples.unique_jpeg(seed=1000 + i, size=(160, 120)) for i in range(24)]

    def send(data: bytes) -> dict:
        r = requests.post(
            f"{scaled_server.url}/api/upload", files={"file": ("x.jpg", data)}, timeout=60
        )
        assert r.status_code == 201, r.text
        return r.json()

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(send, files))
    assert len({r["id"] for r in results}) == len(files)
    service = scaled_server.app.state.service
    for r in results:
        record = service.catalog.get(r["id"])
        assert hashlib.sha256(service.store.get(record.blob_key)).hexdigest() == r["sha256"]


def test_redirect_mode_sends_clients_to_a_presigned_url(scaled_settings):
    server = _serve(dataclasses.replace(scaled_settings, s3_serve="redirect"))
    try:
        body = requests.post(
            f"{server.url}/api/upload", files={"file": ("a.jpg", samples.unique_jpeg())}
        ).json()
        r = requests.get(body["url"], allow_redirects=False, timeout=30)
        assert r.status_code == 302
        assert "X-Amz-Signature=" in r.headers["location"]
        assert r.headers["cache-control"].startswith("private, max-age=")
        followed = requests.get(body["url"], timeout=30)  # to the S3 server itself
        assert followed.status_code == 200
        assert hashlib.sha256(followed.content).hexdigest() == body["sha256"]
        assert followed.headers["content-type"] == "image/jpeg"
        assert "immutable" in followed.headers["cache-control"]
        assert f'filename="{body["id"]}.jpg"' in followed.headers["content-disposition"]
        # The canonical-name redirect and the checks still come first.
        other = requests.get(f"{server.url}/{body['id']}.png", allow_redirects=False)
        assert other.status_code == 308
        unknown = requests.get(f"{server.url}/AAAAAAAAAA.jpg", allow_redirects=False)
        assert unknown.status_code == 404
        # Thumbnails are made on demand by the app, so they are always streamed.
        assert requests.get(body["thumbnail_url"], allow_redirects=False).status_code == 200
    finally:
        server.stop()


def test_redirect_mode_with_a_public_url(scaled_settings):
    settings = dataclasses.replace(
        scaled_settings, s3_serve="redirect", s3_public_url="https://cdn.example"
    )
    server = _serve(settings)
    try:
        body = requests.post(
            f"{server.url}/api/upload", files={"file": ("a.jpg", samples.unique_jpeg())}
        ).json()
        r = requests.get(body["url"], allow_redirects=False, timeout=30)
        sha = body["sha256"]
        assert r.status_code == 302
        assert matches_blob_key(
            r.headers["location"], sha, "jpg", prefix="https://cdn.example/blobs/"
        )
    finally:
        server.stop()


def test_bad_s3_serve_setting_is_refused():
    with pytest.raises(ValueError, match="PICDROP_S3_SERVE"):
        Settings(s3_serve="teleport")


def _service(settings: Settings) -> ImageService:
    return build(settings, migrate=True).images


def _upload(service: ImageService, seed: int, expires_at: float | None = None):
    data = samples.unique_jpeg(seed=seed)
    return service.store_upload(
        service.prepare(data),
        request_sha256=hashlib.sha256(data).hexdigest(),
        expires_at=expires_at,
    )


def test_two_replicas_purge_expired_uploads_at_once(scaled_settings, s3_server, s3_bucket):
    replicas = [_service(scaled_settings) for _ in range(2)]
    try:
        a = replicas[0]
        for i in range(12):
            _upload(a, seed=2000 + i, expires_at=time.time() - 1)
        keep = _upload(a, seed=2100)
        barrier = threading.Barrier(2)

        def purge(service: ImageService) -> int:
            barrier.wait()
            return service.purge_expired()

        with ThreadPoolExecutor(max_workers=2) as pool:
            counts = list(pool.map(purge, replicas))
        assert sum(counts) == 12  # every upload deleted exactly once, by one of them
        assert len(image_records(a.catalog)) == 1
        assert _objects(s3_server, s3_bucket) == [f"blobs/{keep.record.blob_key}"]
    finally:
        for r in replicas:
            r.catalog.close()


def test_one_replica_at_a_time_runs_housekeeping(scaled_settings):
    a, b = _service(scaled_settings), _service(scaled_settings)
    try:
        with a.catalog.exclusive("housekeeping"):
            assert b.housekeeping() is None  # another replica is at it: skip this round
        assert b.housekeeping() == (0, 0)
    finally:
        a.catalog.close()
        b.catalog.close()


def test_orphan_sweep_lists_the_bucket(scaled_settings, s3_server, s3_bucket):
    service = _service(scaled_settings)
    try:
        kept = _upload(service, seed=3000)
        orphan = "ab/" + "ab" * 32 + ".png"
        service.store.put(orphan, b"left by a crash")
        service.store.put("thumbs/cd/" + "cd" * 32 + ".webp", b"thumb of nothing")
        assert service.sweep_orphans(grace=3600) == 0  # too young
        assert service.sweep_orphans(grace=0) == 2
        assert _objects(s3_server, s3_bucket) == [f"blobs/{kept.record.blob_key}"]
    finally:
        service.catalog.close()


def test_fallback_store_reads_through_and_deletes_from_both(scaled_settings, tmp_path):
    old_dir = tmp_path / "old-blobs"
    settings = dataclasses.replace(scaled_settings, storage_fallback_url=str(old_dir))
    service = _service(settings)
    try:
        assert isinstance(service.store, FallbackStore)
        service.store.fallback.put("ab/old.png", b"old")
        assert service.store.get("ab/old.png") == b"old"
        assert service.store.exists("ab/old.png")
        service.store.put("cd/new.png", b"new")
        assert not (old_dir / "cd" / "new.png").exists()  # writes go to the new store only
        assert [b.key for b in service.store.list()] == ["cd/new.png"]
        service.store.delete("ab/old.png")
        assert not service.store.exists("ab/old.png")
        with pytest.raises(KeyError):
            service.store.get("ab/old.png")
    finally:
        service.catalog.close()


def test_fallback_store_offers_only_files_of_the_primary_to_nginx(tmp_path):
    from backend.storage import FilesystemStore

    store = FallbackStore(FilesystemStore(tmp_path / "new"), FilesystemStore(tmp_path / "old"))
    store.fallback.put("ab/old.png", b"old")
    store.put("cd/new.png", b"new")
    assert store.local_path("ab/old.png") is None  # the app sends it
    assert store.local_path("cd/new.png") == tmp_path / "new" / "cd" / "new.png"
