"""Hostile inputs against the running server.

Every refused case asserts the status and the error code, that nothing was stored (no row, no
blob, no temporary file left in the data directory, no temporary file left open by the server),
and that the server still serves the image uploaded before the attack. Accepted-but-dangerous
cases (polyglots, odd colour modes, hostile filenames, lying Content-Types) assert what is stored.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import socket
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy.exc import OperationalError

from tests.backend import imagesamples as samples
from tests.backend.conftest import Client, read_response

MAX_BYTES = 3 * 1024 * 1024  # above the 1 MB at which upload bodies spill to a temporary file
STALL = 2
ADMIN = "hostile-admin-token-0123456789abcdef"


@pytest.fixture
def settings_overrides():
    return {"max_bytes": MAX_BYTES, "read_timeout": STALL, "admin_token": ADMIN}


def open_temp_files(data_dir: Path) -> set[str]:
    """Temporary files this process (which runs the server) holds open, deleted or not: where
    upload bodies spill (DATA_DIR/spool; the system's temp dir if that promise broke). The
    catalog's own files (elsewhere under the data dir) are not temporary."""
    tmp = tempfile.gettempdir()
    spool = str(data_dir / "spool") + os.sep
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(spool) or (
            target.startswith(tmp) and not target.startswith(str(data_dir))
        ):
            found.add(f"{fd}:{target}")
    return found


def leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.startswith((".tmp", "tmp"))]


@dataclass
class Snapshot:
    rows: list[str]
    blobs: list[str]
    temp_open: set[str]


class Target:
    """The server under attack, with one innocent image on it."""

    def __init__(self, client: Client) -> None:
        self.client = client
        r = client.upload(samples.unique_jpeg(size=(320, 240)), filename="innocent.jpg")
        assert r.status_code == 201
        self.innocent = r.json()
        client.get(f"/t/{self.innocent['id']}.webp")  # thumbnail stored before the snapshot
        self.before = self.snapshot()

    def snapshot(self) -> Snapshot:
        return Snapshot(
            rows=sorted(r["id"] for r in self.client.rows()),
            blobs=[str(p) for p in self.client.blob_files()],
            temp_open=open_temp_files(self.client.server.settings.data_dir),
        )

    def assert_untouched(self) -> None:
        """Nothing stored, nothing left behind, and the innocent image still served."""
        deadline = time.monotonic() + 5
        while True:  # the server may still be closing a spooled body when the answer arrives
            now = self.snapshot()
            if now.temp_open <= self.before.temp_open or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert now.rows == self.before.rows
        assert now.blobs == self.before.blobs
        assert now.temp_open <= self.before.temp_open, now.temp_open - self.before.temp_open
        assert leftovers(self.client.server.settings.data_dir) == []
        served = self.client.get(f"/{self.innocent['id']}.jpg")
        assert served.status_code == 200
        assert hashlib.sha256(served.content).hexdigest() == self.innocent["sha256"]

    def refused(self, r, status: int, code: str) -> None:
        assert r.status_code == status, r.text
        body = r.json()
        assert body["code"] == code
        assert body["error"].endswith(".") and "Traceback" not in body["error"]
        self.assert_untouched()

    def raw(self, request: bytes, *, then: bytes = b"", shutdown: bool = False) -> bytes:
        with socket.create_connection(self.client.address(), timeout=30) as sock:
            sock.sendall(request + then)
            if shutdown:
                sock.shutdown(socket.SHUT_WR)
            return read_response(sock)


@pytest.fixture
def target(client) -> Target:
    return Target(client)


def post_raw(body: bytes, content_type: str = "image/jpeg", length: int | None = None) -> bytes:
    length = len(body) if length is None else length
    return (
        f"POST /api/upload HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode() + body


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


# -- refused files --------------------------------------------------------------------------------
def _webp_over_frame_budget() -> bytes:
    """300 small frames on a 2000×1000 canvas: 600 million composited pixels (limit 500)."""
    data = bytearray(samples.animated_webp(300, (16, 16), metadata=False))
    assert data[12:16] == b"VP8X"
    data[24:27] = (2000 - 1).to_bytes(3, "little")
    data[27:30] = (1000 - 1).to_bytes(3, "little")
    return bytes(data)


REFUSED = {
    # name: (builder, filename, status, code)
    "empty file": (lambda: b"", "empty.png", 400, "empty_file"),
    "text named .png": (lambda: b"just some notes\n" * 50, "notes.png", 415, "unsupported_type"),
    "GIF89a + script": (
        lambda: b"GIF89a<script>alert(document.cookie)</script>",
        "x.gif",
        422,
        "too_many_pixels",
    ),
    "SVG with script": (
        lambda: (
            b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">'
            b"<script>alert(2)</script></svg>"
        ),
        "x.svg",
        415,
        "unsupported_type",
    ),
    "HTML with a PNG signature": (
        lambda: b"\x89PNG\r\n\x1a\n<html><script>alert(1)</script></html>",
        "x.png",
        422,
        "broken_image",
    ),
    "60000x60000 header bomb": (
        lambda: samples.header_bomb_png(60000, 60000),
        "bomb.png",
        422,
        "too_many_pixels",
    ),
    "1-bit 30000x30000": (lambda: samples.one_bit_png(), "big.png", 422, "too_many_pixels"),
    "GIF with 5000 frames": (
        lambda: samples.many_frame_gif(5000),
        "many.gif",
        422,
        "too_many_frames",
    ),
    "animated WebP over the frame-pixel budget": (
        _webp_over_frame_budget,
        "anim.webp",
        422,
        "too_many_frames",
    ),
    "truncated JPEG": (
        lambda: samples.unique_jpeg(size=(640, 480))[:-4000],
        "cut.jpg",
        422,
        "broken_image",
    ),
    "PNG with a bad CRC": (samples.png_with_bad_crc, "crc.png", 422, "broken_image"),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_refused_files(target, name):
    build, filename, status, code = REFUSED[name]
    target.refused(target.client.upload(build(), filename=filename), status, code)


def test_svg_with_an_svg_content_type(target):
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    r = target.client.session.post(
        f"{target.client.url}/api/upload", data=svg, headers={"Content-Type": "image/svg+xml"}
    )
    target.refused(r, 415, "unsupported_type")
    r = target.client.session.post(
        f"{target.client.url}/api/upload", files={"file": ("x.svg", svg, "image/svg+xml")}
    )
    target.refused(r, 415, "unsupported_type")


# -- bodies that lie or never end -----------------------------------------------------------------
def test_body_over_the_limit_is_refused_and_its_temp_file_removed(target):
    """No Content-Length (chunked): the body spills to a temporary file past 1 MB, and is refused
    as soon as it crosses the limit; the temporary file goes with it."""
    chunk = os.urandom(256 * 1024)
    frames = b"".join(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n" for _ in range(16))
    answer = target.raw(
        b"POST /api/upload HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n",
        then=frames + b"0\r\n\r\n",
    )
    assert status_of(answer) == 413 and b'"code":"too_large"' in answer
    target.assert_untouched()
    # Declared too large: refused on the header alone.
    answer = target.raw(post_raw(b"\xff\xd8\xff", length=MAX_BYTES + 1))
    assert status_of(answer) == 413
    target.assert_untouched()


def test_endless_chunked_body(target):
    answer: list[bytes] = []
    sent = 0
    with socket.create_connection(target.client.address(), timeout=30) as sock:
        sock.sendall(
            b"POST /api/upload HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        reader = threading.Thread(target=lambda: answer.append(read_response(sock)))
        reader.start()
        frame = b"10000\r\n" + b"\xff" * 0x10000 + b"\r\n"
        try:
            while reader.is_alive() and sent < 10 * MAX_BYTES:
                sock.sendall(frame)
                sent += 0x10000
        except OSError:
            pass
        reader.join(30)
    assert answer and status_of(answer[0]) == 413
    assert sent < 10 * MAX_BYTES  # the server stopped it, not the test
    target.assert_untouched()


def test_content_length_smaller_than_the_body(target):
    """Only Content-Length bytes are the body: a truncated JPEG (422). The rest is garbage
    where the next request should start (400, connection closed); which answer the client sees
    first is a race, but either way nothing is stored."""
    jpeg = samples.unique_jpeg(size=(320, 240))
    answer = target.raw(post_raw(jpeg, length=len(jpeg) // 2), shutdown=True)
    assert status_of(answer) in (400, 422), answer[:200]
    target.assert_untouched()
    # The same lie, with the excess arriving after the server answered the first part.
    with socket.create_connection(target.client.address(), timeout=30) as sock:
        sock.sendall(post_raw(jpeg, length=len(jpeg) // 2)[: -(len(jpeg) - len(jpeg) // 2)])
        first = read_response(sock)
        sock.sendall(jpeg[len(jpeg) // 2 :])
        rest = read_response(sock)
    assert status_of(first) == 422 and b'"code":"broken_image"' in first
    assert status_of(rest) == 400
    target.assert_untouched()


def test_content_length_larger_than_the_body_then_hang_up(target):
    jpeg = samples.unique_jpeg(size=(320, 240))
    target.raw(post_raw(jpeg, length=len(jpeg) + 5000), shutdown=True)  # EOF before the end
    target.assert_untouched()


def test_content_length_larger_than_the_body_then_stall(target):
    """A client that stops sending is dropped after PICDROP_READ_TIMEOUT with 408."""
    jpeg = samples.unique_jpeg(size=(320, 240))
    start = time.monotonic()
    answer = target.raw(post_raw(jpeg, length=len(jpeg) + 5000))
    assert status_of(answer) == 408 and b'"code":"timeout"' in answer
    assert STALL <= time.monotonic() - start < STALL + 10
    target.assert_untouched()


# -- accepted, but stored safely ------------------------------------------------------------------
def test_png_zip_polyglot_is_stored_without_the_zip(target):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("shell.php", "<?php system($_GET['c']); ?>")
    r = target.client.upload(samples.plain_png((64, 48)) + archive.getvalue(), filename="p.png")
    assert r.status_code == 201, r.text
    served = target.client.get(f"/{r.json()['id']}.png").content
    assert served.endswith(b"IEND\xaeB`\x82") and b"PK\x03\x04" not in served
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(io.BytesIO(served))


@pytest.mark.parametrize(
    ("build", "mime"),
    [
        (samples.cmyk_jpeg, "image/jpeg"),
        (samples.png_16bit, "image/png"),
        (samples.palette_png_with_transparency, "image/png"),
    ],
    ids=["CMYK JPEG", "16-bit PNG", "palette PNG with transparency"],
)
def test_unusual_but_valid_images_are_served_with_their_pixels(target, build, mime):
    original = build()
    r = target.client.upload(original)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["mime"] == mime
    served = target.client.get(f"/{body['id']}.{body['url'].rsplit('.', 1)[1]}")
    assert hashlib.sha256(served.content).hexdigest() == body["sha256"]
    with Image.open(io.BytesIO(original)) as a, Image.open(io.BytesIO(served.content)) as b:
        assert a.mode == b.mode and a.tobytes() == b.tobytes()
    assert target.client.get(f"/t/{body['id']}.webp").status_code == 200


@pytest.mark.parametrize(
    "filename",
    ["../../x.php%00.png", "../../x.php\x00.png", "é" * 150 + "🙂" * 150 + ".png"],
    ids=["traversal with %00", "traversal with NUL", "300-character unicode"],
)
def test_hostile_filenames_are_ignored(target, filename):
    data = samples.plain_png((40, 30))
    r = target.client.session.post(
        f"{target.client.url}/api/upload",
        files={"file": (filename, data, "image/png")},
        timeout=30,
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["url"] == f"{target.client.url}/{body['id']}.png"
    root = target.client.server.settings.data_dir
    names = [p.name for p in root.parent.rglob("*")]
    assert not any("php" in n or "é" in n for n in names)
    db = (root / "picdrop.db").read_bytes() + (root / "picdrop.db-wal").read_bytes()
    # Not a lone "é": its two bytes, C3 A9, are in every timestamp stored as a double for some
    # hours of each few days (struct.pack(">d", time.time()) began 41 DA C3 A9 on 2026-12-01).
    assert b"x.php" not in db and ("é" * 8).encode() not in db
    disposition = target.client.get(f"/{body['id']}.png").headers["content-disposition"]
    assert disposition == f'inline; filename="{body["id"]}.png"'


def test_jpeg_sent_as_png_is_a_jpeg(target):
    jpeg = samples.unique_jpeg()
    raw = target.client.session.post(
        f"{target.client.url}/api/upload", data=jpeg, headers={"Content-Type": "image/png"}
    )
    form = target.client.session.post(
        f"{target.client.url}/api/upload", files={"file": ("photo.png", jpeg, "image/png")}
    )
    for r in (raw, form):
        assert r.status_code == 201, r.text
        assert r.json()["mime"] == "image/jpeg" and r.json()["url"].endswith(".jpg")
        served = target.client.get(f"/{r.json()['id']}.jpg")
        assert served.headers["content-type"] == "image/jpeg"
        moved = target.client.get(f"/{r.json()['id']}.png", allow_redirects=False)
        assert moved.status_code == 308  # the same image under its canonical name


# -- tokens, removed content, idempotency ---------------------------------------------------------
def test_wrong_empty_and_other_images_delete_tokens(target):
    client = target.client
    other = client.upload(samples.unique_jpeg()).json()
    victim = target.innocent["id"]
    cases = [
        ({"Authorization": "Bearer wrong-token-wrong-token-wrong"}, 403, "forbidden"),
        ({"Authorization": "Bearer "}, 401, "unauthorized"),
        ({}, 401, "unauthorized"),
        ({"Authorization": f"Bearer {other['delete_token']}"}, 403, "forbidden"),
    ]
    target.before = target.snapshot()
    for headers, status, code in cases:
        r = client.session.delete(f"{client.url}/api/images/{victim}", headers=headers)
        target.refused(r, status, code)
    for token in ("", "wrong", other["delete_token"]):
        r = client.session.post(f"{client.url}/delete/{victim}/{token}")
        assert r.status_code in (403, 404, 405)
        target.assert_untouched()


def test_reupload_of_removed_content_is_451(target):
    client = target.client
    data = samples.encode(samples.varied_picture(99), quality=90)
    image = client.upload(data).json()
    removal = client.session.post(
        f"{client.url}/api/admin/images/{image['id']}/remove",
        headers={"Authorization": f"Bearer {ADMIN}"},
    )
    assert removal.status_code == 200
    target.before = target.snapshot()
    target.refused(client.upload(data), 451, "blocked")


def test_idempotency_key_reused_with_another_file(target):
    client = target.client
    key = {"Idempotency-Key": "0f0e0d0c-0b0a-4909-8807-060504030201"}
    first = client.upload(samples.unique_jpeg(), headers=key)
    assert first.status_code == 201
    target.before = target.snapshot()
    target.refused(client.upload(samples.unique_jpeg(), headers=key), 422, "idempotency_key_reused")


# -- garbage that once reached an unhandled exception ---------------------------------------------
DEEP_JSON = "[" * 15000  # nested past the JSON parser's recursion limit
GARBAGE = {
    # name: (method, path (ID: the innocent image), request keywords)
    "deep JSON report": ("POST", "/api/images/ID/report", {"data": DEEP_JSON, "json": True}),
    "deep JSON report form": ("POST", "/report/ID", {"data": DEEP_JSON, "json": True}),
    "deep JSON removal note": (
        "POST",
        "/api/admin/images/ID/remove",
        {"data": DEEP_JSON, "json": True, "admin": True},
    ),
    "deep JSON dismissal note": (
        "POST",
        "/api/admin/images/ID/dismiss",
        {"data": DEEP_JSON, "json": True, "admin": True},
    ),
    "oEmbed of an unclosed IPv6 host": ("GET", "/api/oembed?url=http://[::1/x", {}),
    "deep JSON upload from a URL": ("POST", "/api/upload", {"data": DEEP_JSON, "json": True}),
    "upload from an unclosed IPv6 host": (
        "POST",
        "/api/upload",
        {"data": '{"url": "http://[::1/x.png"}', "json": True},
    ),
    "oEmbed of a host with a fullwidth #": ("GET", "/api/oembed?url=http://a\uff03b/ID", {}),
}


@pytest.mark.parametrize("name", list(GARBAGE))
def test_garbage_is_a_400_not_a_500(target, no_token_in_logs, name):
    method, path, kw = GARBAGE[name]
    headers = dict(kw.get("headers", {}))
    if kw.get("json"):
        headers["Content-Type"] = "application/json"
    if kw.get("admin"):
        headers["Authorization"] = f"Bearer {ADMIN}"
    client = target.client
    path = path.replace("ID", target.innocent["id"])
    r = client.session.request(
        method, client.url + path, data=kw.get("data"), headers=headers, timeout=30
    )
    target.refused(r, 400, "bad_request")
    assert not [line for line in no_token_in_logs.lines if "Traceback" in line]


# -- unexpected errors: one line with an incident id, the connection kept ----------------------
def test_unexpected_error_is_an_incident_logged_once_and_the_connection_survives(
    target, no_token_in_logs, monkeypatch
):
    service = target.client.server.app.state.service
    monkeypatch.setattr(service, "lookup", lambda image_id: 1 / 0)
    request = f"GET /api/images/{target.innocent['id']} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    answers = []
    with socket.create_connection(target.client.address(), timeout=30) as sock:
        for _ in range(3):  # the same socket: keep-alive survives each 500
            sock.sendall(request)
            answers.append(read_response(sock))
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status_of(read_response(sock)) == 200
    incidents = []
    for answer in answers:
        assert status_of(answer) == 500
        body = json.loads(answer.partition(b"\r\n\r\n")[2])
        assert body["code"] == "internal_error" and body["incident"] in body["error"]
        incidents.append(body["incident"])
    assert len(set(incidents)) == 3
    errors = [line for line in no_token_in_logs.lines if "ZeroDivisionError" in line]
    for incident in incidents:  # one line each...
        assert len([line for line in errors if f"incident {incident}" in line]) == 1
    # ...and one traceback in all: the first time this error site was seen.
    tracebacks = [line for line in no_token_in_logs.lines if "Traceback" in line]
    assert len(tracebacks) == 1 and f"incident {incidents[0]}" in tracebacks[0]


# -- delete tokens never reach the log ------------------------------------------------------------
def _busy(image_id: str, token: str) -> None:
    raise OperationalError("DELETE FROM images", {}, Exception("database is locked"))


def _crash(image_id: str, token: str) -> None:
    raise RuntimeError("cannot delete")


def _crash_quoting_the_path(image_id: str, token: str) -> None:
    raise RuntimeError(f"cannot delete /delete/{image_id}/{token}")


@pytest.mark.parametrize(
    ("fault", "status"),
    [(_busy, 503), (_crash, 500), (_crash_quoting_the_path, 500)],
    ids=["database busy", "unexpected error", "unexpected error quoting the path"],
)
def test_errors_on_the_delete_link_do_not_log_its_token(
    target, no_token_in_logs, monkeypatch, fault, status
):
    client = target.client
    image = client.upload(samples.unique_jpeg()).json()
    monkeypatch.setattr(client.server.app.state.service, "delete", fault)
    r = client.session.post(image["delete_url"], timeout=30)
    assert r.status_code == status
    deadline = time.monotonic() + 10  # the access log writes its line once the answer is out
    while not [line for line in no_token_in_logs.lines if line.startswith("POST /delete/")]:
        assert time.monotonic() < deadline, "no access log line"
        time.sleep(0.01)
    logged = "\n".join(no_token_in_logs.lines)
    assert f"/delete/{image['id']}/[token]" in logged  # the error was logged, redacted
    assert image["delete_token"] not in logged
    access = [line for line in no_token_in_logs.lines if line.startswith("POST /delete/")]
    assert [line.split()[:3] for line in access] == [
        ["POST", f"/delete/{image['id']}/[token]", str(status)]
    ]


TOKEN = "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MDEy"


@pytest.mark.parametrize(
    ("msg", "args"),
    [
        ("%s %s %d", ("POST", f"/delete/abcdefghij/{TOKEN}", 404)),  # our access log
        ('%s - "%s %s HTTP/%s" %d', ("-", "POST", f"/delete/a/{TOKEN}?x=1", "1.1", 404)),
        ("%s %s %d", ("POST", f"/delete/a/b/{TOKEN}", 404)),  # a decoded %2F in the ID
        ("%s %s %d", ("POST", f"/delete/a b/{TOKEN}", 404)),  # a decoded space in the ID
        (f"cannot delete http://x/delete/abc/{TOKEN}: busy", ()),  # free text
        (f"quoted '/delete/abc/{TOKEN}'", ()),
    ],
    ids=["access log", "uvicorn access log", "slash in the ID", "space in the ID", "text", "quote"],
)
def test_the_redaction_takes_the_token_out_of_every_shape(msg, args):
    from backend.http.log_redaction import RedactTokens

    record = logging.LogRecord("picdrop.access", logging.INFO, __file__, 1, msg, args, None)
    assert RedactTokens().filter(record)
    line = logging.Formatter().format(record)
    assert TOKEN not in line and "[token]" in line


# -- request heads -------------------------------------------------------------------------------
def _sent_until_refused(address, head: bytes, filler: bytes, total: int) -> bytes:
    """Send `head`, then `filler` until `total` bytes went or the server hung up; its answer."""
    with socket.create_connection(address, timeout=30) as sock:
        sent = 0
        try:
            sock.sendall(head)
            while sent < total:
                sock.sendall(filler)
                sent += len(filler)
            sock.sendall(b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused before the end: what a bounded server does
        return read_response(sock)


@pytest.mark.parametrize(
    ("filler", "total"),
    [
        (b"X-Pad: " + b"a" * 8_000 + b"\r\n", 4 * 1024 * 1024),  # many headers
        (b"a" * 65_536, 4 * 1024 * 1024),  # one header that never ends
        (b"; picdrop-delete-AAAAAAAAAA=" + b"t" * 40, 1024 * 1024),  # a Cookie of 15,000
    ],
)
def test_a_request_head_over_64_kb_is_refused_while_it_is_read(client, filler, total):
    """uvicorn's h11 protocol bounds a request's head (h11_max_incomplete_event_size); the
    httptools one it picks when that is installed read 100 MB of headers into memory."""
    start = b"GET / HTTP/1.1\r\nHost: x\r\n" + (b"Cookie: a=b" if filler.startswith(b";") else b"")
    if filler.startswith(b"a"):
        start += b"X-Long: "
    answer = _sent_until_refused(client.address(), start, filler, total)
    assert status_of(answer) == 431, answer[:200]
    assert json.loads(answer.partition(b"\r\n\r\n")[2])["code"] == "headers_too_large"
    # A head under the bound, and a big body after it, are still served.
    near = {f"X-Pad-{n}": "a" * 1_000 for n in range(50)}
    assert client.get("/", headers=near).status_code == 200
    assert client.upload(samples.unique_jpeg(seed=9, size=(1500, 1500))).status_code == 201
    # Whole requests over 64 KB, each in one write (one read of the server), on one connection.
    with socket.create_connection(client.address(), timeout=30) as sock:
        for _ in range(2):
            noise = io.BytesIO()
            Image.frombytes("L", (320, 320), os.urandom(320 * 320)).save(noise, "PNG")
            image = noise.getvalue()  # 100 KB: noise does not compress
            sock.sendall(post_raw(image))
            assert status_of(read_response(sock)) == 201
