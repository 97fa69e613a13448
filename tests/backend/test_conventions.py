"""Habits of other image hosts that clients bring along: `curl -T file host/` (PUT), 0x0.st's
`expires` in hours or epoch milliseconds, and oEmbed as its spec says (501 for xml, thumbnails
within the bounds, sizes that are those of the file named)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

import pytest

from tests.backend import imagesamples as samples

HOUR = 3600


@pytest.mark.parametrize("path", ["/", "/photo.png", "/api/upload/photo.png"])
def test_put_uploads_a_raw_body(client, path):
    data = samples.unique_jpeg(seed=len(path))
    r = client.session.put(client.url + path, data=data, timeout=30)
    assert r.status_code == 201, r.text
    if path.startswith("/api/"):
        url = r.json()["url"]
    else:  # like POST /: the link as text, the delete token in headers
        url = r.text.strip()
        assert r.headers["x-delete-url"].startswith(f"{client.url}/delete/")
    assert url.startswith(f"{client.url}/") and client.get(url.removeprefix(client.url)).ok


def _expires_in(client, value: str) -> float | None:
    r = client.upload(samples.unique_jpeg(seed=7), "a.jpg", data={"expires": value})
    assert r.status_code == 201, r.text
    expires_at = r.json()["expires_at"]
    return (
        None if expires_at is None else datetime.fromisoformat(expires_at).timestamp() - time.time()
    )


@dataclass(frozen=True)
class FromNow:
    """An `expires` in epoch milliseconds, this many seconds after the test sends it."""

    seconds: float

    def __str__(self) -> str:
        return str(int((time.time() + self.seconds) * 1000))


@pytest.mark.parametrize(
    ("settings_overrides", "value", "expected"),
    [
        ({}, "1h", HOUR),
        ({}, "2", 2 * HOUR),  # hours, as 0x0.st takes a number
        ({}, "720", 720 * HOUR),
        ({}, FromNow(3 * HOUR), 3 * HOUR),  # milliseconds since 1970
        ({"max_expiry": "1d"}, "100000", 24 * HOUR),  # capped by the policy
        ({"max_expiry": "1d"}, FromNow(30 * 24 * HOUR), 24 * HOUR),
        ({"max_expiry": "7d"}, "99999999999999999999", 7 * 24 * HOUR),  # far beyond: never, capped
        ({}, "99999999999999999999", None),
    ],
)
def test_expires_in_hours_and_epoch_milliseconds(client, value, expected):
    got = _expires_in(client, str(value))
    if expected is None:
        assert got is None
    else:
        assert got is not None and expected - 120 < got <= expected + 1


@pytest.mark.parametrize("value", ["0", "-3", "1.5", "2 hours", FromNow(-HOUR), "9" * 21, "１"])
def test_expires_refusals(client, value):
    r = client.upload(samples.unique_jpeg(seed=8), "a.jpg", data={"expires": str(value)})
    assert r.status_code == 400, r.text
    assert r.json()["code"] == "bad_request" and "expires" in r.json()["error"]


# -- oEmbed ---------------------------------------------------------------------------------------
@pytest.fixture
def photo(client):
    """800×600; its thumbnail is 320×240."""
    r = client.upload(samples.plain_jpeg((800, 600)), "a.jpg")
    assert r.status_code == 201, r.text
    return r.json()


@pytest.mark.parametrize(
    ("bounds", "url", "size", "thumbnail"),
    [
        ({}, "url", (800, 600), True),
        ({"maxwidth": 800, "maxheight": 600}, "url", (800, 600), True),
        ({"maxwidth": 500}, "thumbnail_url", (320, 240), True),
        ({"maxheight": 240}, "thumbnail_url", (320, 240), True),
        # nothing fits: the smallest file, with its real size, and no thumbnail fields
        ({"maxwidth": 200, "maxheight": 100}, "thumbnail_url", (320, 240), False),
        ({"maxwidth": 319}, "thumbnail_url", (320, 240), False),
    ],
)
def test_oembed_sizes_are_those_of_the_file_named(client, photo, bounds, url, size, thumbnail):
    params = {"url": photo["page_url"], **bounds}
    body = client.session.get(f"{client.url}/api/oembed", params=params, timeout=10).json()
    assert body["url"] == photo[url]
    assert (body["width"], body["height"]) == size
    thumb_fields = {"thumbnail_url", "thumbnail_width", "thumbnail_height"}
    if thumbnail:
        assert thumb_fields <= body.keys()
        assert body["thumbnail_width"] <= bounds.get("maxwidth", 320)
        assert body["thumbnail_height"] <= bounds.get("maxheight", 240)
    else:
        assert not thumb_fields & body.keys()


@pytest.mark.parametrize(
    ("fmt", "status", "code"),
    [
        ("json", 200, None),
        ("JSON", 200, None),
        ("xml", 501, "format_not_implemented"),
        ("yaml", 400, "unknown_format"),
    ],
)
def test_oembed_formats(client, photo, fmt, status, code):
    params = {"url": photo["page_url"], "format": fmt}
    r = client.session.get(f"{client.url}/api/oembed", params=params, timeout=10)
    assert r.status_code == status
    if code:
        assert r.json()["code"] == code
