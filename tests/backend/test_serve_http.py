"""Serving: headers, conditional and range requests, thumbnails, viewer page, metadata."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image

from tests.backend import imagesamples as samples


@pytest.fixture
def uploaded(client):
    r = client.upload(samples.unique_jpeg(size=(800, 600)), filename="a.jpg")
    assert r.status_code == 201, r.text
    return r.json()


def test_image_headers(client, uploaded):
    r = client.get(f"/{uploaded['id']}.jpg")
    h = r.headers
    assert h["content-type"] == "image/jpeg"
    assert h["etag"] == f'"{uploaded["sha256"]}"'
    assert h["cache-control"] == "public, max-age=31536000, immutable"
    assert h["x-content-type-options"] == "nosniff"
    assert h["content-security-policy"] == "default-src 'none'; sandbox"
    assert h["referrer-policy"] == "no-referrer"
    assert h["accept-ranges"] == "bytes"


def test_head_has_headers_and_no_body(client, uploaded):
    r = client.session.head(f"{client.url}/{uploaded['id']}.jpg")
    assert r.status_code == 200
    assert r.content == b""
    assert int(r.headers["content-length"]) == uploaded["size"]


def test_conditional_get(client, uploaded):
    etag = client.get(f"/{uploaded['id']}.jpg").headers["etag"]
    r = client.get(f"/{uploaded['id']}.jpg", headers={"If-None-Match": etag})
    assert r.status_code == 304 and r.content == b""
    assert client.get(f"/{uploaded['id']}.jpg", headers={"If-None-Match": '"x"'}).status_code == 200


@pytest.mark.parametrize("settings_overrides", [{"cache_bytes": 0}])  # every read hits the store
@pytest.mark.parametrize("which", ["url", "thumbnail_url"])
def test_revalidation_reads_no_bytes_from_the_store(client, live_server, uploaded, which):
    """A 304 is decided from the catalog record (the ETag is its SHA-256), not the blob."""
    first = client.session.get(uploaded[which])
    assert first.status_code == 200
    store = live_server.app.state.service.store
    reads = []
    read = store.get

    def counted(key: str) -> bytes:
        reads.append(key)
        return read(key)

    store.get = counted
    try:
        again = client.session.get(first.url, headers={"If-None-Match": first.headers["etag"]})
        assert again.status_code == 304 and again.headers["etag"] == first.headers["etag"]
        assert reads == []
        changed = client.session.get(first.url, headers={"If-None-Match": '"other"'})
        assert changed.status_code == 200 and changed.content == first.content
        assert len(reads) == 1  # the counting itself works
    finally:
        del store.get


@pytest.mark.parametrize(
    ("header", "status", "window"),
    [
        ("bytes=0-99", 206, (0, 99)),
        ("bytes=100-", 206, (100, None)),
        ("bytes=-50", 206, (-50, None)),
        ("bytes=999999999-", 416, None),
        ("bytes=-0", 416, None),
        ("BYTES=0-9", 206, (0, 9)),
        ("items=0-5", 200, None),
        # Invalid ranges are ignored (RFC 9110 14.2): the whole image, not 416...
        ("bytes=5-3", 200, None),
        # ...and so is anything but ASCII digits (int() takes underscores, signs, spaces).
        ("bytes=1_0-2_0", 200, None),
        ("bytes=+1-2", 200, None),
        ("bytes=1- 2", 200, None),
        ("bytes=0-1,3-4", 200, None),
    ],
)
def test_ranges(client, uploaded, header, status, window):
    full = client.get(f"/{uploaded['id']}.jpg").content
    r = client.get(f"/{uploaded['id']}.jpg", headers={"Range": header})
    assert r.status_code == status
    if status == 206:
        start, end = window
        expected = full[start:] if end is None else full[start : end + 1]
        assert r.content == expected
        assert re.fullmatch(rf"bytes \d+-\d+/{len(full)}", r.headers["content-range"])
    elif status == 416:
        assert r.headers["content-range"] == f"bytes */{len(full)}"
    else:
        assert r.content == full


def test_other_extension_redirects_to_the_canonical_one(client, uploaded):
    r = client.get(f"/{uploaded['id']}.png", allow_redirects=False)
    assert r.status_code == 308
    assert r.headers["location"] == f"/{uploaded['id']}.jpg"


def test_thumbnail(client, uploaded):
    r = client.get(f"/t/{uploaded['id']}.webp")
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/webp"
    with Image.open(io.BytesIO(r.content)) as im:
        assert im.format == "WEBP"
        assert max(im.size) == 320
    assert client.get(f"/t/{uploaded['id']}.webp").content == r.content


def test_viewer_page_has_preview_tags(client, uploaded):
    r = client.get(f"/{uploaded['id']}")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    html = r.text
    assert f'<meta property="og:image" content="{uploaded["url"]}">' in html
    assert '<meta property="og:image:width" content="800">' in html
    assert '<meta property="og:image:height" content="600">' in html
    assert '<meta name="twitter:card" content="summary_large_image">' in html
    assert "script-src 'self'" in r.headers["content-security-policy"]


def test_metadata_json(client, uploaded):
    r = client.get(f"/api/images/{uploaded['id']}")
    assert r.status_code == 200
    meta = r.json()
    assert meta["url"] == uploaded["url"] and meta["width"] == 800
    assert "delete_token" not in meta and "delete_url" not in meta


@pytest.mark.parametrize(
    "path",
    [
        "/AAAAAAAAAA.jpg",
        "/AAAAAAAAAA",
        "/t/AAAAAAAAAA.webp",
        "/api/images/AAAAAAAAAA",
        "/short.jpg",
        "/../etc/passwd",
        "/x.exe",
    ],
)
def test_unknown_is_404_json(client, path):
    r = client.get(path)
    assert r.status_code == 404
    assert r.json()["code"] == "not_found"


def test_unknown_page_is_html_for_browsers(client):
    r = client.get("/AAAAAAAAAA", headers={"Accept": "text/html"})
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")


def test_health_openapi_and_sharex(client):
    assert client.get("/healthz").json()["status"] == "ok"
    spec = client.get("/openapi.json").json()
    assert "/api/upload" in spec["paths"]
    sxcu = client.get("/api/sharex.sxcu")
    assert sxcu.json()["RequestURL"] == f"{client.url}/api/upload"
    assert sxcu.json()["FileFormName"] == "file"
    assert "attachment" in sxcu.headers["content-disposition"]
