"""The serving fast path (backend/http/fastpath.py): the same answers as the route, and a delete,
removal or expiry made anywhere is seen by the very next request."""

from __future__ import annotations

import sqlite3
import time

import pytest

from backend.assembly import build
from backend.catalog import Catalog, WouldBlock
from tests.backend import imagesamples as samples
from tests.catalog_rows import matches_blob_key

VOLATILE = {"date"}


@pytest.fixture
def uploaded(client):
    r = client.upload(samples.unique_jpeg(size=(640, 480)), filename="a.jpg")
    assert r.status_code == 201, r.text
    return r.json()


def _service(client):
    return client.server.app.state.service


def _answer(client, method: str, path: str):
    r = client.session.request(method, client.url + path, timeout=30)
    headers = {k.lower(): v for k, v in r.headers.items() if k.lower() not in VOLATILE}
    return r.status_code, headers, r.content


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_cached_image_gets_the_same_answer_as_from_the_route(client, uploaded, method):
    path = f"/{uploaded['id']}.jpg"
    service = _service(client)
    key = service.catalog.get(uploaded["id"]).blob_key
    assert service.cache.get(key) is not None
    fast = _answer(client, method, path)
    service.cache.discard(key)
    routed = _answer(client, method, path)  # a cache miss: the FastAPI route answers
    assert fast == routed
    assert fast[0] == 200


def test_cached_images_are_answered_without_the_route(client, uploaded, monkeypatch):
    service = _service(client)

    def no_route(*_args):
        raise AssertionError("the route was used")

    monkeypatch.setattr(service, "lookup", no_route)
    r = client.get(f"/{uploaded['id']}.jpg")
    assert r.status_code == 200 and len(r.content) == uploaded["size"]


def test_a_delete_through_another_process_is_seen_at_once(client, uploaded):
    settings = client.server.settings
    other = build(settings)
    try:
        other.images.delete(uploaded["id"], uploaded["delete_token"])
    finally:
        other.close()
    # The bytes are still in this server's cache; the row is not in the catalog any more.
    assert client.get(f"/{uploaded['id']}.jpg").status_code == 404


@pytest.mark.parametrize(
    ("sql", "status"),
    [
        ("UPDATE images SET removed_at = 1 WHERE id = ?", 451),
        (f"UPDATE images SET expires_at = {time.time() - 1} WHERE id = ?", 404),
        ("DELETE FROM images WHERE id = ?", 404),
    ],
)
def test_removed_expired_and_deleted_rows_are_not_served_from_the_cache(
    client, uploaded, sql, status
):
    assert client.get(f"/{uploaded['id']}.jpg").status_code == 200
    with sqlite3.connect(client.server.settings.data_dir / "picdrop.db") as db:
        db.execute(sql, (uploaded["id"],))
    assert client.get(f"/{uploaded['id']}.jpg").status_code == status


def test_other_names_and_conditional_requests_go_to_the_route(client, uploaded):
    image_id = uploaded["id"]
    r = client.get(f"/{image_id}.jpeg", allow_redirects=False)
    assert r.status_code == 308 and r.headers["location"] == f"/{image_id}.jpg"
    assert client.get(f"/{image_id}.png", allow_redirects=False).status_code == 308
    etag = client.get(f"/{image_id}.jpg").headers["etag"]
    assert client.get(f"/{image_id}.jpg", headers={"If-None-Match": etag}).status_code == 304
    r = client.get(f"/{image_id}.jpg", headers={"Range": "bytes=0-9"})
    assert r.status_code == 206 and len(r.content) == 10


def test_the_quick_read_steps_aside_when_it_cannot_answer(tmp_path):
    missing = Catalog(f"sqlite:///{tmp_path / 'not-yet.db'}")
    with pytest.raises(WouldBlock):  # no schema yet
        missing.get_nowait("abcdefghij")
    missing.migrate()
    assert missing.get_nowait("abcdefghij") is None
    missing.close()


@pytest.mark.parametrize("settings_overrides", [{"x_accel_redirect": "/_picdrop_blobs/"}])
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_behind_nginx_the_fast_path_hands_over_the_same_headers(
    client, uploaded, method, monkeypatch
):
    path = f"/{uploaded['id']}.jpg"
    fast = _answer(client, method, path)
    sha = uploaded["sha256"]
    assert fast[0] == 200 and fast[2] == b""
    assert matches_blob_key(fast[1]["x-accel-redirect"], sha, "jpg", prefix="/_picdrop_blobs/")

    def busy(_image_id):
        raise WouldBlock()

    monkeypatch.setattr(_service(client).catalog, "get_nowait", busy)
    assert _answer(client, method, path) == fast  # the route's answer
