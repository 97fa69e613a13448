"""Helpers for backend tests that talk to a real server over HTTP, and a watch on every test
that runs one: no delete token issued during the run may appear in any server log."""

from __future__ import annotations

import json
import logging
import re
import socket
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from backend import ids
from backend.server import EmbeddedServer

# The test's own HTTP clients log the URLs they request (a delete link among them) at DEBUG;
# those lines are the client's, not the server's.
CLIENT_LOGGERS = ("urllib3", "requests", "httpx", "httpcore")


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


# -- no delete token in any log -------------------------------------------------------------------
class LogLines(logging.Handler):
    """Every record, formatted as a handler would (tracebacks included).

    It keeps no filters: the server also installs its redaction on the root's handlers, and
    this one, added before the server starts, would get it too; without it, the test sees what
    a handler added later (by an embedding application) would, so only the loggers' own
    redaction counts."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def addFilter(self, filter) -> None:
        pass

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith(CLIENT_LOGGERS):
            self.lines.append(self.format(record))


@pytest.fixture(scope="session")
def issued_tokens() -> set[str]:
    """Every delete token issued to any test of the session."""
    return set()


def _record_tokens(response: requests.Response, tokens: set[str]) -> None:
    header = response.headers.get("x-delete-token")
    if header:
        tokens.add(header)
    if response.status_code in (200, 201) and "json" in response.headers.get("content-type", ""):
        try:
            body = json.loads(response.content)
        except ValueError:
            return
        if isinstance(body, dict) and isinstance(body.get("delete_token"), str):
            tokens.add(body["delete_token"])


@pytest.fixture(autouse=True)
def no_token_in_logs(
    request: pytest.FixtureRequest, issued_tokens: set[str], monkeypatch, tmp_path: Path
) -> Iterator[LogLines | None]:
    """For every test that runs a server (in this process or as child processes): record each
    delete token issued — where the server makes them, and from every answer a `requests` client
    receives (servers in child processes) — capture everything logged at DEBUG and up, and the
    child servers' log files, and fail if any token issued so far appears in any of it."""
    if not {"live_server", "server_process"} & set(request.fixturenames):
        yield None
        return
    make_token = ids.new_delete_token

    def recorded_token() -> str:
        token = make_token()
        issued_tokens.add(token)
        return token

    send = requests.Session.send

    def recording_send(session, prepared, **kw):
        response = send(session, prepared, **kw)
        if not kw.get("stream"):
            _record_tokens(response, issued_tokens)
        return response

    monkeypatch.setattr(ids, "new_delete_token", recorded_token)
    monkeypatch.setattr(requests.Session, "send", recording_send)
    root = logging.getLogger()
    level = root.level
    handler = LogLines()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    logs = "\n".join(handler.lines)
    logs += "".join(p.read_text("utf-8", "replace") for p in tmp_path.rglob("*.log"))
    leaked = sorted(token for token in issued_tokens if token in logs)
    assert not leaked, f"{len(leaked)} delete token(s) in the server's logs"
