"""Idempotency-Key replays and expiry."""

from __future__ import annotations

import uuid

import pytest
import requests

from backend.server import EmbeddedServer
from backend.settings import Settings
from tests.backend import imagesamples as samples


def test_retry_with_the_same_key_returns_the_first_result(client):
    data = samples.unique_jpeg()
    key = str(uuid.uuid4())
    first = client.upload(data, headers={"Idempotency-Key": key})
    second = client.upload(data, headers={"Idempotency-Key": key})
    assert first.status_code == 201 and second.status_code == 200
    assert second.json() == first.json()  # delete token included
    assert len(client.rows()) == 1


def test_key_reused_for_another_file_is_refused(client):
    key = str(uuid.uuid4())
    assert client.upload(samples.unique_jpeg(), headers={"Idempotency-Key": key}).ok
    r = client.upload(samples.unique_jpeg(), headers={"Idempotency-Key": key})
    assert r.status_code == 422
    assert r.json()["code"] == "idempotency_key_reused"
    assert len(client.rows()) == 1


@pytest.mark.parametrize("key", ["short", "x" * 201, "bad\x01key-with-control"])
def test_malformed_keys(client, key):
    r = client.upload(samples.unique_jpeg(), headers={"Idempotency-Key": key})
    assert r.status_code == 400


def test_database_alone_does_not_reveal_the_delete_token(client):
    key = str(uuid.uuid4())
    token = client.upload(samples.unique_jpeg(), headers={"Idempotency-Key": key}).json()[
        "delete_token"
    ]
    data_dir = client.server.settings.data_dir
    dump = b"".join(p.read_bytes() for p in data_dir.glob("picdrop.db*"))
    assert token.encode() not in dump and key.encode() not in dump


@pytest.mark.parametrize(("expires", "seconds"), [("1h", 3600), ("1d", 86400), ("7d", 604800)])
def test_expiry_is_set(client, expires, seconds):
    r = client.upload(samples.unique_jpeg(), data={"expires": expires})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["expires_at"] is not None
    served = client.get(f"/{body['id']}.jpg")
    max_age = int(served.headers["cache-control"].split("max-age=")[1].split(",")[0])
    assert seconds - 60 <= max_age <= seconds


def test_bad_expiry_is_a_clear_400(client):
    r = client.upload(samples.unique_jpeg(), data={"expires": "forever"})
    assert r.status_code == 400
    assert "expires" in r.json()["error"]


def test_expired_uploads_vanish_and_are_purged(client):
    service = client.server.app.state.service
    body = client.upload(samples.unique_jpeg(), data={"expires": "1h"}).json()
    keep = client.upload(samples.unique_jpeg()).json()
    real_clock = service.clock
    service.clock = lambda: real_clock() + 3601
    try:
        assert client.get(f"/{body['id']}.jpg").status_code == 404
        assert service.purge_expired() == 1
    finally:
        service.clock = real_clock
    assert [row["id"] for row in client.rows()] == [keep["id"]]
    assert client.get(f"/{keep['id']}.jpg").status_code == 200
    assert len(client.blob_files()) == 1


def test_server_caps_the_expiry(tmp_path):
    server = EmbeddedServer(Settings(data_dir=tmp_path, port=0, max_expiry="1d", sweep_interval=0))
    server.start()
    try:
        r = requests.post(
            f"{server.url}/api/upload",
            files={"file": ("a.jpg", samples.unique_jpeg())},
            data={"expires": "never"},
            timeout=30,
        )
        assert r.status_code == 201
        assert r.json()["expires_at"] is not None
    finally:
        server.stop()
