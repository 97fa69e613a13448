"""Helpers for backend tests that talk to a real server over HTTP."""

from __future__ import annotations

import re
import socket
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from backend.server import EmbeddedServer


@dataclass
class Client:
    """A requests session bound to one live server, with shortcuts for uploads."""

    server: EmbeddedServer
    session: requests.Session

    @property
    def url(self) -> str:
        return self.server.url

    def upload(self, content: bytes, filename: str = "image.bin", **kw) -> requests.Response:
        return self.session.post(
            f"{self.url}/api/upload", files={"file": (filename, content)}, timeout=30, **kw
        )

    def get(self, path: str, **kw) -> requests.Response:
        return self.session.get(self.url + path, timeout=30, **kw)

    def address(self) -> tuple[str, int]:
        host, port = self.url.removeprefix("http://").rsplit(":", 1)
        return host, int(port)

    def rows(self) -> list[dict]:
        db = self.server.settings.data_dir / "picdrop.db"
        with sqlite3.connect(db) as conn:
            conn.row_factory = sqlite3.Row
            return [dict(r) for r in conn.execute("SELECT * FROM images")]

    def blob_files(self) -> list[Path]:
        root = self.server.settings.data_dir / "blobs"
        return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def read_response(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection or the body is complete."""
    received = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, TimeoutError):
            break
        if not chunk:
            break
        received += chunk
        head, sep, body = received.partition(b"\r\n\r\n")
        if sep:
            length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
            if length and len(body) >= int(length.group(1)):
                break
    return received


@pytest.fixture
def client(live_server: EmbeddedServer) -> Client:
    with requests.Session() as session:
        yield Client(live_server, session)
