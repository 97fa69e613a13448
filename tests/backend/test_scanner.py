"""The external scanner hook, against a real small HTTP server started by the test."""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
import time

import pytest

from tests.backend import imagesamples as samples


class Scanner(http.server.ThreadingHTTPServer):
    """Answers according to `mode`; remembers what it was sent."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), ScannerHandler)
        self.mode = "allow"
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/scan"


class ScannerHandler(http.server.BaseHTTPRequestHandler):
    server: Scanner

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append((dict(self.headers.items()), body))
        mode = self.server.mode
        if mode == "slow":
            time.sleep(3)
        if mode in ("allow", "slow"):
            self._answer(200, "application/json", b'{"ok": true}')
        elif mode == "deny-json":
            reason = {"reason": "Matches a known abuse image.\x07<script>"}
            self._answer(403, "application/json", json.dumps(reason).encode())
        elif mode == "deny-text":
            self._answer(451, "text/plain", b"nope")
        else:
            self._answer(500, "text/html", b"<h1>crash</h1>")

    def _answer(self, status: int, ctype: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def scanner():
    server = Scanner()
    server.thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def settings_overrides(scanner):
    return {"scanner_url": scanner.url, "scanner_timeout": 1}


def test_uploads_are_scanned_before_they_are_published(client, scanner):
    original = samples.jpeg_with_metadata()
    r = client.upload(original, filename="a.jpg")
    assert r.status_code == 201, r.text
    [(headers, body)] = scanner.received
    # The scanner sees exactly what would be published: the stripped bytes, not the upload.
    assert hashlib.sha256(body).hexdigest() == r.json()["sha256"] == headers["X-Picdrop-Sha256"]
    assert body != original and headers["Content-Type"] == "image/jpeg"
    assert len(headers["X-Picdrop-Dhash"]) == 32


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("deny-json", "The check said: Matches a known abuse image.<script>."),
        ("deny-text", "The check said: nope."),
        ("error", "refused by the server's content check."),
    ],
)
def test_a_non_2xx_answer_refuses_the_upload(client, scanner, mode, message):
    scanner.mode = mode
    r = client.upload(samples.unique_jpeg())
    assert r.status_code == 422
    assert r.json()["code"] == "rejected_by_scanner"
    assert r.json()["error"].endswith(message)
    assert client.rows() == [] and client.blob_files() == []
    scanner.mode = "allow"
    assert client.upload(samples.unique_jpeg()).status_code == 201


def test_a_silent_scanner_refuses_uploads_for_now(client, scanner):
    scanner.mode = "slow"  # answers after 3 s; the server waits 1 s
    r = client.upload(samples.unique_jpeg())
    assert r.status_code == 503
    assert r.json()["code"] == "scanner_unavailable"
    assert int(r.headers["Retry-After"]) > 0
    assert client.rows() == [] and client.blob_files() == []


def test_an_unreachable_scanner_refuses_uploads(client, scanner):
    scanner.shutdown()
    scanner.server_close()  # the port now refuses connections
    r = client.upload(samples.unique_jpeg())
    assert r.status_code == 503 and r.json()["code"] == "scanner_unavailable"
    assert client.rows() == [] and client.blob_files() == []
    assert client.get("/healthz").status_code == 200
