"""Uploads through the real server: accepted formats, every rejection path, what is stored."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import socket
import subprocess
import tempfile
import threading
import time
import zipfile

import pytest
import requests
from PIL import Image

from backend.server import EmbeddedServer
from tests.backend import imagesamples as samples
from tests.backend.conftest import read_response
from tests.conftest import require_program

ACCEPTED = {
    "jpeg": (samples.unique_jpeg, "image/jpeg", "jpg"),
    "png": (samples.png_with_text, "image/png", "png"),
    "gif": (samples.animated_gif, "image/gif", "gif"),
    "webp": (samples.animated_webp, "image/webp", "webp"),
}


def pixels(data: bytes) -> list[bytes]:
    frames = []
    with Image.open(io.BytesIO(data)) as im:
        for index in range(getattr(im, "n_frames", 1)):
            im.seek(index)
            frames.append(im.convert("RGBA").tobytes())
    return frames


@pytest.mark.parametrize("fmt", sorted(ACCEPTED))
def test_upload_is_served_as_stored(client, fmt):
    build, mime, ext = ACCEPTED[fmt]
    original = build()
    r = client.upload(original, filename=f"picture.{ext}")
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) >= {
        "id",
        "url",
        "page_url",
        "thumbnail_url",
        "delete_url",
        "delete_token",
        "width",
        "height",
        "size",
        "mime",
        "sha256",
        "expires_at",
    }
    assert body["mime"] == mime
    assert body["url"] == f"{client.url}/{body['id']}.{ext}"
    assert len(body["id"]) >= 10
    assert body["expires_at"] is None

    served = client.get(f"/{body['id']}.{ext}")
    assert served.status_code == 200
    assert served.headers["content-type"] == mime
    assert hashlib.sha256(served.content).hexdigest() == body["sha256"]
    assert len(served.content) == body["size"]
    assert pixels(served.content) == pixels(original)
    [blob] = [p for p in client.blob_files() if not p.as_posix().count("/thumbs/")]
    assert blob.read_bytes() == served.content


REJECTED = [
    # name, body, filename, status, code
    ("empty", b"", "empty.png", 400, "empty_file"),
    ("text named .png", b"hello, this is text\n" * 20, "notes.png", 415, "unsupported_type"),
    (
        "svg",
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        "x.svg",
        415,
        "unsupported_type",
    ),
    (
        "html",
        b"<!doctype html><html><script>alert(1)</script></html>",
        "x.png",
        415,
        "unsupported_type",
    ),
    (
        "pdf",
        b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF",
        "x.pdf",
        415,
        "unsupported_type",
    ),
    ("truncated jpeg", None, "cut.jpg", 422, "broken_image"),
    ("png with a flipped data byte", None, "flip.png", 422, "broken_image"),
    ("60000x60000 header bomb", None, "bomb.png", 422, "too_many_pixels"),
    ("gif with too many frames", None, "many.gif", 422, "too_many_frames"),
]
BUILDERS = {
    "truncated jpeg": lambda: samples.unique_jpeg(size=(640, 480))[:-3000],
    "png with a flipped data byte": samples.png_with_flipped_data_byte,
    "60000x60000 header bomb": lambda: samples.header_bomb_png(60000, 60000),
    "gif with too many frames": lambda: samples.many_frame_gif(600),
}


@pytest.mark.parametrize(
    ("name", "body", "filename", "status", "code"), REJECTED, ids=[r[0] for r in REJECTED]
)
def test_rejections_leave_nothing_behind(client, name, body, filename, status, code):
    data = BUILDERS[name]() if body is None else body
    r = client.upload(data, filename=filename)
    assert r.status_code == status, r.text
    assert r.json()["code"] == code
    assert r.json()["error"].endswith(".")  # a sentence, not a stack trace
    assert client.rows() == []
    assert client.blob_files() == []


def test_over_the_byte_limit_is_refused_before_the_body_is_read(client):
    """413 on the declared length alone: the server answers without waiting for the body."""
    limit = client.server.settings.max_bytes
    with socket.create_connection(client.address(), timeout=10) as sock:
        sock.sendall(
            b"POST /api/upload HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
            + f"Content-Length: {limit + 1}\r\n\r\n".encode()
            + b"\x89PNG\r\n\x1a\n"  # a few bytes of a body that never arrives in full
        )
        answer = read_response(sock)
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert b'"code":"too_large"' in answer
    assert client.rows() == []


def test_streamed_body_over_the_limit_stops_at_the_limit(client):
    """A chunked body with no length is refused once it crosses the limit; the server stops
    reading there instead of swallowing an endless body."""
    limit = client.server.settings.max_bytes
    answer: list[bytes] = []
    sent = 0
    with socket.create_connection(client.address(), timeout=30) as sock:
        sock.sendall(
            b"POST /api/upload HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        reader = threading.Thread(target=lambda: answer.append(read_response(sock)))
        reader.start()
        frame = b"10000\r\n" + b"\x00" * 0x10000 + b"\r\n"
        try:
            while sent < 4 * limit and reader.is_alive():
                sock.sendall(frame)
                sent += 0x10000
        except (BrokenPipeError, ConnectionResetError):
            pass
        reader.join(30)
    assert answer and answer[0].startswith(b"HTTP/1.1 413 ")
    assert sent < 1.5 * limit  # socket buffers hold a few MB more, never the whole stream
    assert client.rows() == []


def test_jpeg_metadata_is_gone_from_the_served_bytes(client):
    original = samples.jpeg_with_metadata()
    r = client.upload(original, filename="holiday.jpg")
    assert r.status_code == 201, r.text
    served = client.get(f"/{r.json()['id']}.jpg").content
    for secret in samples.JPEG_SECRETS:
        assert secret not in served, secret
    # Pixels identical, orientation kept (and only that).
    with Image.open(io.BytesIO(original)) as a, Image.open(io.BytesIO(served)) as b:
        assert a.tobytes() == b.tobytes()
        assert b.getexif().get(0x0112) == 6
        assert dict(b.getexif()) == {0x0112: 6}
    assert r.json()["width"] < r.json()["height"]  # displayed upright: portrait after rotation


@pytest.mark.parametrize(
    ("make", "removed"),
    [
        (samples.jpeg_with_metadata, {"GPS location", "camera serial number", "comment"}),
        (samples.plain_jpeg, set()),
    ],
)
def test_the_answer_lists_the_metadata_removed(client, make, removed):
    answer = client.upload(make(), filename="holiday.jpg")
    assert answer.status_code == 201, answer.text
    listed = answer.json()["removed_metadata"]
    assert removed <= set(listed)
    assert bool(listed) == bool(removed)


def test_png_text_chunks_and_trailing_html_are_gone(client):
    original = samples.png_with_text() + b"<html><script>alert(1)</script></html>"
    r = client.upload(original, filename="notes.png")
    assert r.status_code == 201, r.text
    served = client.get(f"/{r.json()['id']}.png").content
    assert served.endswith(b"IEND\xaeB`\x82")
    for chunk in (b"tEXt", b"zTXt", b"iTXt", b"tIME", b"eXIf", b"<script"):
        assert chunk not in served


def test_png_zip_polyglot_is_stored_without_the_zip(client):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("payload.php", "<?php echo 'owned'; ?>")
    r = client.upload(samples.png_with_text() + archive.getvalue(), filename="poly.png")
    assert r.status_code == 201, r.text
    served = client.get(f"/{r.json()['id']}.png").content
    assert served.endswith(b"IEND\xaeB`\x82")
    assert b"PK\x03\x04" not in served and b"payload.php" not in served
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(io.BytesIO(served))


def test_raw_body_and_put_uploads(client):
    data = samples.unique_jpeg()
    raw = client.session.post(
        f"{client.url}/api/upload", data=data, headers={"Content-Type": "image/jpeg"}, timeout=30
    )
    assert raw.status_code == 201, raw.text
    put = client.session.put(f"{client.url}/api/upload/photo.jpg", data=samples.unique_jpeg())
    assert put.status_code == 201, put.text
    assert raw.json()["id"] != put.json()["id"]


@pytest.mark.parametrize("field", ["file", "file[]", "images[]"])
def test_multipart_field_names(client, field):
    r = client.session.post(
        f"{client.url}/api/upload", files={field: ("a.png", samples.png_with_text())}, timeout=30
    )
    assert r.status_code == 201, r.text


def test_same_bytes_twice_are_stored_once_with_two_ids(client):
    data = samples.unique_jpeg()
    a = client.upload(data).json()
    b = client.upload(data).json()
    assert a["id"] != b["id"] and a["delete_token"] != b["delete_token"]
    assert a["sha256"] == b["sha256"]
    assert len(client.blob_files()) == 1
    # Deleting one keeps the other's link working.
    d = client.session.delete(
        f"{client.url}/api/images/{a['id']}",
        headers={"Authorization": f"Bearer {a['delete_token']}"},
    )
    assert d.status_code == 204
    assert client.get(f"/{b['id']}.jpg").status_code == 200
    assert client.get(f"/{a['id']}.jpg").status_code == 404


def test_curl_upload_prints_one_url(client, tmp_path):
    curl = require_program("curl")
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(samples.unique_jpeg())
    out = subprocess.run(
        [curl, "-sS", "-F", f"file=@{photo}", client.url + "/"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    lines = out.splitlines()
    assert len(lines) == 1 and out.endswith("\n")
    assert lines[0].startswith(client.url + "/") and lines[0].endswith(".jpg")
    assert client.get(lines[0].removeprefix(client.url)).content == photo.read_bytes()


def test_curl_errors_are_plain_sentences(client):
    r = client.session.post(client.url + "/", files={"file": ("x.txt", b"just text")})
    assert r.status_code == 415
    assert r.headers["content-type"].startswith("text/plain")
    assert r.text.startswith("error: ") and r.text.endswith(".\n")


def _multipart(data: bytes, *, closed: bool) -> bytes:
    part = (
        b'--BOUNDARY\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n'
        b"Content-Type: image/jpeg\r\n\r\n" + data + b"\r\n"
    )
    return part + (b"--BOUNDARY--\r\n" if closed else b"")


@pytest.mark.parametrize(
    ("closed", "status"), [(True, 201), (False, 400)], ids=["closed", "no closing boundary"]
)
def test_a_multipart_body_must_end_with_its_closing_boundary(client, closed, status):
    r = client.session.post(
        f"{client.url}/api/upload",
        data=_multipart(samples.unique_jpeg(), closed=closed),
        headers={"Content-Type": "multipart/form-data; boundary=BOUNDARY"},
        timeout=30,
    )
    assert r.status_code == status, r.text
    if status == 400:
        assert r.json()["code"] == "bad_request" and "closing boundary" in r.json()["error"]
        assert client.rows() == [] and client.blob_files() == []


def _open_files() -> set[str]:
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            found.add(os.readlink(f"/proc/self/fd/{fd}"))
    return found


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc (Linux)")
def test_large_bodies_spool_into_the_data_directory(client):
    """Past 1 MB a body goes to a temporary file in DATA_DIR/spool (the disk the operator sized
    for uploads), never to the system's temporary directory."""
    spool = str(client.server.settings.data_dir / "spool") + os.sep
    before = _open_files()
    body = os.urandom(2 * 1024 * 1024)
    with socket.create_connection(client.address(), timeout=30) as sock:
        sock.sendall(
            b"POST /api/upload HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
            + f"Content-Length: {len(body) + 1}\r\n\r\n".encode()
            + body  # one byte short: the server holds the spooled body, waiting for it
        )
        deadline = time.monotonic() + 20
        while not any(f.startswith(spool) for f in _open_files() - before):
            assert time.monotonic() < deadline, "the body never reached DATA_DIR/spool"
            time.sleep(0.02)
        new = _open_files() - before
    system_temp = tempfile.gettempdir() + os.sep
    data_dir = str(client.server.settings.data_dir)
    assert not [f for f in new if f.startswith(system_temp) and not f.startswith(data_dir)]


def test_requests_find_every_route_built_when_the_server_starts(server_settings, monkeypatch):
    """FastAPI builds a route's parameter models under a process-wide `catch_warnings` the first
    time a request walks past it; in a serving thread, another thread's filters raced it and
    the first upload answered 500 (app.py, `_build_routes`). The server builds them all first."""
    import fastapi.routing

    built: list[str] = []
    real = fastapi.routing.get_dependant

    def counting(**kw):
        built.append(kw["path"])
        return real(**kw)

    monkeypatch.setattr(fastapi.routing, "get_dependant", counting)
    server = EmbeddedServer(server_settings)
    server.start()
    try:
        at_start = len(built)
        assert at_start > 0, "the patch no longer sees FastAPI build routes: update this test"
        with requests.Session() as session:
            assert (
                session.post(
                    f"{server.url}/api/upload",
                    files={"file": ("a.jpg", samples.unique_jpeg())},
                    timeout=30,
                ).status_code
                == 201
            )
            for path in ("/", "/api/oembed?url=x", "/nothing-here", "/api/albums/x"):
                session.get(server.url + path, timeout=30)
        assert built[at_start:] == []
    finally:
        server.stop()
