"""Uploads from a URL, through a real server: the fetch target is a server this test starts on
127.0.0.1, allowed only by PICDROP_URL_FETCH_ALLOW naming its exact address and port; every
other loopback address (127.0.0.2 listens too, on the same port) stays refused, so no traffic
leaves the machine."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.backend import imagesamples as samples

MAX_BYTES = 256 * 1024
IMAGE = samples.jpeg_with_segments(samples.jpeg_segment(0xFE, b"a comment with a name in it"))


@dataclass
class Origin:
    """What the fetch target saw: the paths asked for, and how a huge answer ended."""

    port: int = 0
    requests: list[str] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)  # ends the slow answer
    huge_ended: threading.Event = field(default_factory=threading.Event)
    huge_sent: int = 0

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


HUGE_TOTAL = 200 * MAX_BYTES


def _handler(origin: Origin) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            origin.requests.append(f"{self.server.server_address[0]} {self.path}")
            if self.path == "/image.jpg":
                self._answer(200, "image/jpeg", IMAGE)
            elif self.path == "/page.html":
                self._answer(200, "text/html", b"<!doctype html><p>Not an image.</p>")
            elif self.path == "/to-image":
                self._redirect(origin.url("/image.jpg"))
            elif self.path == "/to-127.0.0.2":
                self._redirect(origin.url("/image.jpg", host="127.0.0.2"))
            elif self.path == "/to-file":
                self._redirect("file:///etc/passwd")
            elif self.path == "/to-broken-name":
                self._redirect("http://xn--/image.jpg")  # an IDNA label that does not decode
            elif self.path == "/huge":
                self._huge()
            elif self.path == "/slow":
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.end_headers()
                self.wfile.write(IMAGE[:100])
                self.wfile.flush()
                origin.release.wait(60)
            else:
                self._answer(404, "text/plain", b"no")

        def _answer(self, status: int, ctype: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _redirect(self, location: str) -> None:
            self.send_response(302)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _huge(self) -> None:
            """An image of no declared length that never ends (well, 50 MB)."""
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.end_headers()
            chunk = IMAGE[:2] + bytes(64 * 1024 - 2)
            try:
                while origin.huge_sent < HUGE_TOTAL:
                    self.wfile.write(chunk)
                    origin.huge_sent += len(chunk)
            except OSError:
                pass  # the fetcher hung up: what the test wants
            finally:
                origin.huge_ended.set()

    return Handler


@pytest.fixture
def origin() -> Iterator[Origin]:
    """The fetch target on 127.0.0.1, and a twin on 127.0.0.2 on the same port."""
    origin = Origin()
    first = ThreadingHTTPServer(("127.0.0.1", 0), _handler(origin))
    origin.port = first.server_address[1]
    twin = ThreadingHTTPServer(("127.0.0.2", origin.port), _handler(origin))
    servers = [first, twin]
    for server in servers:
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield origin
    finally:
        origin.release.set()
        for server in servers:
            server.shutdown()
            server.server_close()


@pytest.fixture
def extra_settings() -> dict:
    return {}


@pytest.fixture
def settings_overrides(origin: Origin, extra_settings: dict) -> dict:
    return {
        "url_fetch_allow": f"127.0.0.1:{origin.port}",
        "url_fetch_timeout": 1,
        "max_bytes": MAX_BYTES,
        **extra_settings,
    }


def fetch(client, url: str, **fields):
    return client.session.post(f"{client.url}/api/upload", json={"url": url, **fields}, timeout=30)


@pytest.mark.parametrize("path", ["/image.jpg", "/to-image"])
def test_a_good_url_is_uploaded_like_a_file(client, origin, path):
    answer = fetch(client, origin.url(path), expires="1h")
    assert answer.status_code == 201, answer.text
    result = answer.json()
    assert (result["width"], result["height"]) == (64, 48)
    assert result["expires_at"] is not None
    served = client.session.get(result["url"], timeout=30)
    assert served.status_code == 200
    assert served.content.startswith(b"\xff\xd8")
    assert b"a name in it" not in served.content  # the same stripping as any upload


def test_the_plain_form_takes_a_url_too(client, origin):
    answer = client.session.post(
        f"{client.url}/upload", data={"url": origin.url("/image.jpg")}, allow_redirects=False
    )
    assert answer.status_code == 303, answer.text
    assert len(client.rows()) == 1


def test_a_redirect_to_another_loopback_address_is_refused_before_connecting(client, origin):
    answer = fetch(client, origin.url("/to-127.0.0.2"))
    assert answer.status_code == 422
    assert answer.json()["code"] == "url_refused"
    assert origin.requests == ["127.0.0.1 /to-127.0.0.2"]  # nothing reached 127.0.0.2
    assert client.rows() == []


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("file:///etc/passwd", "url_refused"),
        ("ftp://127.0.0.1/x.png", "url_refused"),
        ("gopher://127.0.0.1:70/", "url_refused"),
        ("http://127.0.0.2:{port}/image.jpg", "url_refused"),  # same port, other address
        ("http://127.0.0.1:1/image.jpg", "url_refused"),  # same address, other port
        ("http://[::1]:{port}/image.jpg", "url_refused"),
        ("http://[::ffff:127.0.0.1]:{port}/image.jpg", "url_refused"),
        ("http://[::127.0.0.1]:{port}/image.jpg", "url_refused"),  # IPv4-compatible
        ("http://[fec0::1]:{port}/image.jpg", "url_refused"),  # site-local
        ("http://127.0.0.1:{port}/to-file", "url_refused"),
        ("not a url at all", "url_refused"),
        ("http://", "bad_request"),
        ("http://xn--/image.jpg", "bad_request"),
        ("http://xn--ls8h.xn--/image.jpg", "bad_request"),
        ("http://127.0.0.1:{port}/to-broken-name", "bad_request"),
    ],
)
def test_refused_addresses(client, origin, url, code):
    answer = fetch(client, url.format(port=origin.port))
    assert answer.status_code in (400, 422), answer.text
    assert answer.json()["code"] == code
    assert all(seen.startswith("127.0.0.1 ") for seen in origin.requests)
    assert "/image.jpg" not in " ".join(origin.requests)


def test_a_page_that_is_not_an_image_is_refused_like_a_file(client, origin):
    answer = fetch(client, origin.url("/page.html"))
    assert answer.status_code == 415
    assert answer.json()["code"] == "unsupported_type"


def test_an_error_answer_is_not_stored(client, origin):
    answer = fetch(client, origin.url("/missing.png"))
    assert answer.status_code == 422
    assert answer.json()["code"] == "url_unreachable"
    assert "404" in answer.json()["error"]


def test_a_too_large_answer_is_stopped_while_reading(client, origin):
    answer = fetch(client, origin.url("/huge"))
    assert answer.status_code == 413
    assert answer.json()["code"] == "too_large"
    assert origin.huge_ended.wait(30)
    assert origin.huge_sent < HUGE_TOTAL  # the fetcher hung up long before the end
    assert client.rows() == []


def test_a_slow_answer_times_out(client, origin):
    answer = fetch(client, origin.url("/slow"))
    assert answer.status_code == 422
    assert answer.json()["code"] == "url_timeout"
    assert client.rows() == []


@pytest.mark.parametrize(
    "body",
    [{}, {"url": ""}, {"url": 42}, {"url": "http://x/" + "a" * 3000}],
)
def test_a_url_upload_without_a_usable_url_is_a_400(client, body):
    answer = client.session.post(f"{client.url}/api/upload", json=body, timeout=30)
    assert answer.status_code == 400
    assert answer.json()["code"] == "bad_request"


@pytest.mark.parametrize("extra_settings", [{"upload_rate": "1/minute"}])
def test_url_uploads_count_against_the_upload_limit(client, origin):
    assert fetch(client, origin.url("/image.jpg")).status_code == 201
    second = fetch(client, origin.url("/image.jpg"))
    assert second.status_code == 429
    assert origin.requests == ["127.0.0.1 /image.jpg"]  # refused before fetching
