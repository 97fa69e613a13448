"""Promise 6: no raw client address in the database, the logs or error messages — ever.

The server listens on 127.0.0.2 and the test client connects from 127.0.0.1, so "127.0.0.1"
appearing anywhere is the client's address leaking (not the server's own). After a run of
uploads, reports, refusals, rate-limit hits, broken requests and admin actions, the database
files (raw bytes and a SQL dump), every log line and every response are searched for the address
in dotted, decimal and hex form, and for an address sent in X-Forwarded-For. (Promise 2 rides
along: the delete tokens and the admin token are in neither the log nor the database.)
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import socket
import sqlite3
import time
from pathlib import Path

import pytest
import requests
from requests_toolbelt.adapters.source import SourceAddressAdapter

from backend.server import EmbeddedServer
from backend.settings import Settings
from tests.backend import imagesamples as samples

CLIENT = "127.0.0.1"
SERVER = "127.0.0.2"
FORWARDED = "198.51.100.77"  # what a client writes in X-Forwarded-For (not believed here)
PROXIED = "203.0.113.99"  # a client address forwarded by a trusted proxy
ADMIN = "no-address-admin-token-0123456789"
SETTINGS = {
    "host": SERVER,
    "admin_token": ADMIN,
    "upload_rate": "12/minute",
    "report_rate": "4/minute",
    "notfound_rate": "15/minute",
    "read_timeout": 1,
    "log_requests": True,
}


def forms(address: str) -> list[bytes]:
    ip = ipaddress.ip_address(address)
    return [
        address.encode(),
        str(int(ip)).encode(),
        ip.packed.hex().encode(),
        ip.packed.hex().upper().encode(),
    ]


NEEDLES = [f for a in (CLIENT, FORWARDED, PROXIED) for f in forms(a)]


def client_session() -> requests.Session:
    s = requests.Session()
    s.mount("http://", SourceAddressAdapter(CLIENT))
    return s


def exercise(url: str, transcript: list[bytes], *, proxied: bool = False) -> list[str]:
    """Everything a busy day brings, from the client address; every answer is kept.
    Returns the delete tokens handed out (secrets that must not be logged either)."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    extra = {"X-Forwarded-For": PROXIED if proxied else FORWARDED}
    with client_session() as s:

        def keep(r: requests.Response) -> requests.Response:
            transcript.append(str(r.status_code).encode() + str(r.headers).encode() + r.content)
            return r

        ids = []
        for i in range(14):  # past the upload limit
            r = keep(
                s.post(
                    f"{url}/api/upload",
                    files={"file": (f"{i}.jpg", samples.unique_jpeg())},
                    headers=extra,
                )
            )
            if r.status_code == 201:
                ids.append(r.json())
        assert ids and any(t[:3] == b"429" for t in transcript)
        first = ids[0]
        keep(s.get(f"{url}/{first['id']}.jpg"))
        keep(s.get(f"{url}/t/{first['id']}.webp"))
        keep(s.get(f"{url}/{first['id']}", headers={"Accept": "text/html"}))
        keep(s.post(f"{url}/api/upload", files={"file": ("x.svg", b"<svg/>")}))
        for image in ids[:5]:  # past the report limit
            keep(s.post(f"{url}/api/images/{image['id']}/report", json={"reason": "spam"}))
        keep(s.post(f"{url}/report/{first['id']}", data={"reason": "other", "details": "hm"}))
        admin = {"Authorization": f"Bearer {ADMIN}"}
        keep(s.get(f"{url}/api/admin/reports", headers=admin))
        keep(s.post(f"{url}/api/admin/images/{ids[1]['id']}/remove", headers=admin))
        keep(s.get(f"{url}/api/admin/audit", headers=admin))
        keep(s.get(f"{url}/api/admin/blocks", headers={"Authorization": "Bearer wrong"}))
        keep(s.delete(f"{url}/api/images/{ids[2]['id']}", headers={"Authorization": "Bearer x"}))
        keep(s.get(ids[4]["delete_url"]))  # the confirmation page of a delete link
        keep(s.post(ids[3]["delete_url"]))
        for i in range(20):  # past the not-found limit
            keep(s.get(f"{url}/NoSuchImg{i:02d}.png", headers=extra))
    # Raw sockets from the client address: garbage, a stalled body, a hang-up mid-body.
    for payload, wait in (
        (b"NOT HTTP AT ALL\r\n\r\n", 0),
        (b"POST /api/upload HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\nabc", 2.5),
        (b"POST /api/upload HTTP/1.1\r\nHost: x\r\nContent-Length: 99999\r\n\r\n\xff\xd8", 0),
    ):
        with socket.create_connection((host, int(port)), source_address=(CLIENT, 0)) as sock:
            sock.settimeout(5)
            sock.sendall(payload)
            time.sleep(wait)
            with contextlib.suppress(OSError):
                transcript.append(sock.recv(65536))
    return [image["delete_token"] for image in ids]


def database_text(data_dir: Path) -> bytes:
    raw = b"".join(p.read_bytes() for p in data_dir.glob("picdrop.db*"))
    with sqlite3.connect(data_dir / "picdrop.db") as conn:
        dump = "\n".join(conn.iterdump()).encode()
    return raw + dump


def assert_no_address(where: str, haystack: bytes) -> None:
    for needle in NEEDLES:
        assert needle not in haystack, f"{needle!r} found in {where}"


def test_no_address_in_database_logs_or_answers(server_process, tmp_path):
    """A separate server process (its whole stderr log is searched)."""
    server = server_process(tmp_path / "data", **SETTINGS)
    assert server.url.startswith(f"http://{SERVER}:")
    transcript: list[bytes] = []
    tokens = exercise(server.url, transcript)
    server.stop()
    log = server.log().encode()
    # Promise 2 while we are at it: secrets are not logged nor stored in the clear.
    assert b"/delete/" in log and b"[token]" in log
    database = database_text(tmp_path / "data")
    for secret in [*tokens, ADMIN]:
        assert secret.encode() not in log and secret.encode() not in database
    assert b"POST /api/upload 201" in log and b"429" in log  # the log did record the run
    assert b"Invalid HTTP request" in log  # uvicorn's own warning was captured too
    assert_no_address("the server log", log)
    assert_no_address("the database", database_text(tmp_path / "data"))
    assert_no_address("the answers", b"\n".join(transcript))
    for path in (tmp_path / "data").rglob("*"):
        if path.is_file() and not path.name.startswith("picdrop.db"):
            assert_no_address(str(path), path.read_bytes())


def test_no_address_with_a_trusted_proxy_even_at_debug_level(tmp_path, caplog):
    """In-process, every logger at DEBUG; the client address arrives via X-Forwarded-For from a
    trusted proxy (the test client at 127.0.0.1)."""
    caplog.set_level(logging.DEBUG)
    settings = Settings(
        data_dir=tmp_path / "data", port=0, sweep_interval=0, trusted_proxies=CLIENT, **SETTINGS
    )
    server = EmbeddedServer(settings)
    server.start()
    transcript: list[bytes] = []
    try:
        exercise(server.url, transcript, proxied=True)
    finally:
        server.stop()
    log = "\n".join(
        f"{r.name} {r.getMessage()} {r.exc_text or ''} {r.args!r}" for r in caplog.records
    ).encode()
    assert b"picdrop.access" in log and b"429" in log
    assert_no_address("the log records", log)
    assert_no_address("the database", database_text(tmp_path / "data"))
    assert_no_address("the answers", b"\n".join(transcript))


@pytest.mark.parametrize("address", [CLIENT, FORWARDED, PROXIED])
def test_the_needles_are_what_we_think(address):
    assert forms(address)[0].decode() == address
    assert int(forms(address)[1]) == int(ipaddress.ip_address(address))
