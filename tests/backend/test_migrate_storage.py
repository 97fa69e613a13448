"""`picdrop-server migrate-storage`: copying the blobs between the filesystem and S3 while the
servers keep serving (the procedure in docs/DEPLOY.md), resumable and checked."""

from __future__ import annotations

import dataclasses
import hashlib
import re
import threading

import pytest
import requests

from backend import cli
from backend.server import EmbeddedServer
from backend.settings import Settings
from backend.storage import FilesystemStore
from backend.storage.migrate import copy_blobs
from backend.storage.s3 import S3Store
from tests.backend import imagesamples as samples
from tests.catalog_rows import blob_key_pattern


@pytest.fixture
def s3_url(s3_bucket) -> str:
    return f"s3://{s3_bucket}/blobs"


def _s3_flags(s3_server) -> list[str]:
    return [
        "--s3-endpoint-url", s3_server.endpoint_url,
        "--s3-region", s3_server.region,
        "--s3-access-key-id", s3_server.access_key,
        "--s3-secret-access-key", s3_server.secret_key,
    ]  # fmt: skip


def _upload(url: str, seed: int) -> dict:
    r = requests.post(
        f"{url}/api/upload", files={"file": ("a.jpg", samples.unique_jpeg(seed=seed))}, timeout=30
    )
    assert r.status_code == 201, r.text
    return r.json()


class Reader(threading.Thread):
    """Fetches every image over and over, noting anything but a 200 with the right bytes."""

    def __init__(self, base_url: str, images: list[dict]) -> None:
        super().__init__(daemon=True)
        self.base_url, self.images = base_url, images
        self.stop = threading.Event()
        self.failures: list[str] = []
        self.reads = 0

    def run(self) -> None:
        with requests.Session() as s:
            while not self.stop.is_set():
                for image in list(self.images):
                    r = s.get(f"{self.base_url}/{image['id']}.jpg", timeout=30)
                    self.reads += 1
                    if (
                        r.status_code != 200
                        or hashlib.sha256(r.content).hexdigest() != image["sha256"]
                    ):
                        self.failures.append(f"{image['id']}: {r.status_code}")


def test_filesystem_to_s3_without_downtime_for_reads(data_dir, s3_server, s3_url, capsys):
    base = Settings(data_dir=data_dir, host="127.0.0.1", port=0, sweep_interval=0, cache_bytes=0)
    s3 = {
        "s3_endpoint_url": s3_server.endpoint_url,
        "s3_region": s3_server.region,
        "s3_access_key_id": s3_server.access_key,
        "s3_secret_access_key": s3_server.secret_key,
    }
    old_dir = data_dir / "blobs"

    # 1. The server as it was: blobs on the filesystem.
    before = EmbeddedServer(base)
    before.start()
    images = [_upload(before.url, seed=4000 + i) for i in range(8)]
    requests.get(images[0]["thumbnail_url"], timeout=30)  # a thumbnail to carry over too
    doomed = images.pop()

    # 2. Restarted (one replica after the other, in real life) on the new store, reading
    #    through to the old one.
    during = EmbeddedServer(
        dataclasses.replace(base, storage_url=s3_url, storage_fallback_url=str(old_dir), **s3)
    )
    during.start()
    reader_old = Reader(before.url, images)
    reader_new = Reader(during.url, images)
    reader_old.start()
    reader_new.start()
    try:
        new_upload = _upload(during.url, seed=4100)  # lands in S3 only
        gone = requests.delete(
            f"{during.url}/api/images/{doomed['id']}",
            headers={"Authorization": f"Bearer {doomed['delete_token']}"},
        )
        assert gone.status_code == 204  # removed from both stores
        reader_old.stop.set()
        reader_old.join(30)
        before.stop()  # the last old replica goes

        # 3. The copy, while the new server keeps serving.
        status = cli.main(
            ["migrate-storage", "--from", str(old_dir), "--to", s3_url, "--data-dir",
             str(data_dir), *_s3_flags(s3_server)]
        )  # fmt: skip
        out = capsys.readouterr().out
        assert status == 0, out
        assert "copied 8 blobs" in out  # 7 images + 1 thumbnail; the deleted one is not back
        assert "every blob the catalog references is in the destination" in out
    finally:
        reader_new.stop.set()
        reader_old.stop.set()
        reader_new.join(30)
        reader_old.join(30)
        during.stop()
    assert reader_new.reads > len(images) and reader_new.failures == []
    assert reader_old.failures == []

    # 4. Without the fallback: everything is served from S3.
    after = EmbeddedServer(dataclasses.replace(base, storage_url=s3_url, **s3))
    after.start()
    try:
        for image in [*images, new_upload]:
            r = requests.get(f"{after.url}/{image['id']}.jpg", timeout=30)
            assert r.status_code == 200 and hashlib.sha256(r.content).hexdigest() == image["sha256"]
        assert requests.get(f"{after.url}/{doomed['id']}.jpg").status_code == 404
        store = after.app.state.service.store
        sha = doomed["sha256"]
        assert not [b.key for b in store.list() if b.key.startswith(f"{sha[:2]}/{sha}.")]
    finally:
        after.stop()

    # Running it again copies nothing: it is resumable and idempotent.
    assert cli.main(
        ["migrate-storage", "--from", str(old_dir), "--to", s3_url, "--data-dir", str(data_dir),
         *_s3_flags(s3_server)]
    ) == 0  # fmt: skip
    assert "copied 0 blobs" in capsys.readouterr().out


def test_s3_to_filesystem(s3_server, s3_url, tmp_path):
    source = S3Store.from_url(s3_url, **s3_server.store_options())
    blobs = {f"{h[:2]}/{h}.png": data for data in (b"one", b"two", b"three")
             for h in [hashlib.sha256(data).hexdigest()]}  # fmt: skip
    for key, data in blobs.items():
        source.put(key, data)
    dest = FilesystemStore(tmp_path / "blobs")
    report = copy_blobs(source, dest, jobs=2)
    assert (report.copied, report.skipped, report.failed) == (3, 0, [])
    assert {k: dest.get(k) for k in blobs} == blobs


def test_damaged_source_objects_are_reported_not_copied(tmp_path):
    source = FilesystemStore(tmp_path / "old")
    good = hashlib.sha256(b"good").hexdigest()
    bad = hashlib.sha256(b"bad").hexdigest()
    source.put(f"{good[:2]}/{good}.png", b"good")
    source.put(f"{bad[:2]}/{bad}.png", b"bit rot")
    dest = FilesystemStore(tmp_path / "new")
    report = copy_blobs(source, dest)
    assert report.copied == 1
    assert report.failed == [f"{bad[:2]}/{bad}.png"]
    assert not dest.exists(f"{bad[:2]}/{bad}.png")


def test_check_fails_when_the_catalog_references_a_missing_blob(data_dir, tmp_path, capsys):
    settings = Settings(data_dir=data_dir, host="127.0.0.1", port=0, sweep_interval=0)
    server = EmbeddedServer(settings)
    server.start()
    try:
        image = _upload(server.url, seed=4200)
    finally:
        server.stop()
    empty = tmp_path / "empty"
    empty.mkdir()
    # Copying from an empty store leaves the destination without the catalog's blob.
    status = cli.main(
        ["migrate-storage", "--from", str(empty), "--to", str(tmp_path / "new"),
         "--data-dir", str(data_dir)]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert status == 1
    assert re.search(blob_key_pattern(image["sha256"], "jpg"), out)
