"""Behind a reverse proxy: links follow X-Forwarded-Proto/-Host from trusted proxies only, and the
server warns when it listens beyond loopback with no public URL."""

from __future__ import annotations

import pytest

from backend.http.origin import public_url_warning
from backend.settings import Settings
from tests.backend.imagesamples import plain_jpeg

FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "img.example.org:8443"}


@pytest.mark.parametrize(
    ("settings_overrides", "headers", "expected"),
    [
        # the test client's peer is 127.0.0.1
        ({"trusted_proxies": "127.0.0.1"}, FORWARDED, "https://img.example.org:8443"),
        ({"trusted_proxies": "127.0.0.0/8, ::1"}, FORWARDED, "https://img.example.org:8443"),
        # the nearest proxy's value is the last of a chain
        (
            {"trusted_proxies": "127.0.0.1"},
            {"X-Forwarded-Proto": "http, https", "X-Forwarded-Host": "evil.org, img.example.org"},
            "https://img.example.org",
        ),
        # not from a trusted proxy: ignored
        ({}, FORWARDED, "http://{host}"),
        ({"trusted_proxies": "10.0.0.0/8"}, FORWARDED, "http://{host}"),
        # garbage from a trusted proxy: ignored, never put in a link
        (
            {"trusted_proxies": "127.0.0.1"},
            {"X-Forwarded-Proto": "javascript", "X-Forwarded-Host": "evil.org/x?"},
            "http://{host}",
        ),
        ({"trusted_proxies": "127.0.0.1"}, {"X-Forwarded-Host": "a b"}, "http://{host}"),
    ],
)
def test_links_follow_trusted_forwarded_headers(client, headers, expected):
    host = "{}:{}".format(*client.address())
    expected = expected.format(host=host)
    sxcu = client.get("/api/sharex.sxcu", headers=headers)
    assert sxcu.json()["RequestURL"] == f"{expected}/api/upload"
    created = client.upload(plain_jpeg(), "a.jpg", headers=headers).json()
    assert created["url"].startswith(f"{expected}/") and created["delete_url"].startswith(expected)


@pytest.mark.parametrize(
    ("settings_overrides", "status"),
    [({"trusted_proxies": "127.0.0.1"}, 201), ({}, 403)],
)
def test_a_form_from_the_forwarded_origin_is_same_site(client, status):
    """The browser's Origin is the proxy's host:port, which the app knows from X-Forwarded-Host."""
    headers = {"Origin": "http://img.example.org:8443", "X-Forwarded-Host": "img.example.org:8443"}
    assert client.upload(plain_jpeg(), "a.jpg", headers=headers).status_code == status


@pytest.mark.parametrize(
    ("host", "public_url", "warns"),
    [
        ("127.0.0.1", "", False),
        ("::1", "", False),
        ("localhost", "", False),
        ("0.0.0.0", "", True),
        ("::", "", True),
        ("192.168.1.5", "", True),
        ("0.0.0.0", "https://img.example.org", False),
    ],
)
def test_warns_about_an_empty_public_url_off_loopback(host, public_url, warns):
    warning = public_url_warning(Settings(host=host, public_url=public_url))
    assert (warning is not None) == warns
    if warns:
        assert "PICDROP_PUBLIC_URL" in warning and host in warning


def test_serve_prints_the_warning(server_process):
    assert "PICDROP_PUBLIC_URL is empty" in server_process(host="0.0.0.0").log()
    assert "PICDROP_PUBLIC_URL" not in server_process(host="127.0.0.1").log()


@pytest.mark.parametrize(
    ("host_header", "expected"),
    [
        ("img.example.org", "http://img.example.org"),
        ("img.example.org:8443", "http://img.example.org:8443"),
        ("picdrop_app:8000", "http://picdrop_app:8000"),  # a container's name
        ("[::1]:8000", "http://[::1]:8000"),
        # A Host header that names no host: the links name the address the client reached,
        # never the header's text (a 1 MB Host made a 100-image album page 400 MB).
        ("h" * 10_000, "http://{host}"),
        ("[" + "1" * 5_000 + "]", "http://{host}"),
        ("a b", "http://{host}"),
        ("evil.org/x?", "http://{host}"),
        ("<b>:80", "http://{host}"),
    ],
)
def test_links_name_the_host_header_only_when_it_is_a_host(client, host_header, expected):
    expected = expected.format(host="{}:{}".format(*client.address()))
    headers = {"Host": host_header}
    created = client.upload(plain_jpeg(), "a.jpg", headers=headers)
    assert created.status_code == 201, created.text
    assert created.json()["url"] == f"{expected}/{created.json()['id']}.jpg"
    qr = client.get(f"/qr/{created.json()['id']}.svg", headers=headers)  # a QR code holds 2 KB
    assert qr.status_code == 200 and f"QR code of {expected}/".encode() in qr.content
