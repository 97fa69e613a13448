"""`picdrop upload` and the app's upload service against a hostile or broken server: a small HTTP
server in a thread on 127.0.0.1 answers each upload with one bad answer. Whatever it says, the
command exits 1 with one printable line on stderr and no traceback, the history row ends
`failed`, and no answer is read past its cap; the window shows server text escaped and plain."""

from __future__ import annotations

import json
import re
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PySide6.QtCore import QRect, Qt
from PySide6.QtWidgets import QStyleOptionViewItem

from desktop.commands.status import EXIT_FAILED
from desktop.core.api import MAX_ANSWER, UploadResult
from desktop.core.history import HistoryItem, HistoryStore
from desktop.core.intake import BytesSource
from desktop.core.jobs import Job, JobState
from desktop.ui.history_delegate import ROW_HEIGHT, HistoryDelegate
from desktop.ui.queue import UploadRow
from tests.conftest import require_program
from tests.desktop.conftest import history_column

TIMEOUT = 30_000
HUGE = 50 * 1024 * 1024
ESCAPES = "\x1b]0;pwned\x07\x1b[2J\x9b31m\u202e"

GOOD = {
    "id": "AbCdEf1234",
    "url": "http://127.0.0.1:9/AbCdEf1234.png",
    "page_url": "http://127.0.0.1:9/AbCdEf1234",
    "thumbnail_url": "http://127.0.0.1:9/t/AbCdEf1234.webp",
    "delete_url": "http://127.0.0.1:9/delete/AbCdEf1234/tok_en-123",
    "delete_token": "tok_en-123",
    "width": 64,
    "height": 48,
    "size": 321,
    "mime": "image/png",
    "sha256": "0" * 64,
    "expires_at": None,
}


def good_but(**changes: object) -> dict:
    return {**GOOD, **changes}


class Answer:
    """One way to answer an upload: status, headers and body (bytes, or a byte count streamed
    without a length)."""

    def __init__(self, status: int, body: bytes | int = b"", **headers: str) -> None:
        self.status, self.body, self.headers = status, body, headers


def as_json(value: object, status: int = 201) -> Answer:
    return Answer(status, json.dumps(value).encode(), **{"Content-Type": "application/json"})


# The server's answer to the upload (the test server's own URL replaces {url}).
CASES: dict[str, Answer] = {
    "redirect to file://": Answer(302, Location="file:///etc/passwd", **{"Content-Length": "0"}),
    "redirect loop": Answer(307, Location="{url}/api/upload", **{"Content-Length": "0"}),
    "non-JSON 201": Answer(201, b"<html>uploaded!</html>", **{"Content-Type": "text/html"}),
    "JSON list": as_json([GOOD]),
    "empty object": as_json({}),
    "deeply nested JSON": Answer(201, b"[" * 200_000),
    "width is a string": as_json(good_but(width="64")),
    "size is a boolean": as_json(good_but(size=True)),
    "url is a number": as_json(good_but(url=12)),
    "url is javascript:": as_json(good_but(url="javascript:alert(1)")),
    "id walks up paths": as_json(good_but(id="../../admin")),
    "token is null": as_json(good_but(delete_token=None)),
    "ANSI escapes in the url": as_json(good_but(url=f"http://127.0.0.1:9/{ESCAPES}.png")),
    "OSC title in the page url": as_json(good_but(page_url="http://x/\x1b]2;owned\x1b\\")),
    "error with escapes": as_json({"error": f"no {ESCAPES} way", "code": f"c{ESCAPES}"}, 400),
    "huge answer": Answer(201, HUGE),
    "huge error": Answer(413, HUGE),
    "huge declared answer": Answer(201, b"{}", **{"Content-Length": str(HUGE)}),
}


class HostileServer:
    """Answers every POST with `answer`; counts the answer bytes it managed to send."""

    def __init__(self, answer: Answer, tls: ssl.SSLContext | None = None) -> None:
        self.answer = answer
        self.requests = 0
        self.sent = 0
        self.finished = threading.Event()  # set when an answer has been sent, or cut off
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                server.requests += 1
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    server.respond(self)
                except OSError:  # the client hung up: what it wanted to read was read
                    self.close_connection = True
                finally:
                    server.finished.set()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def respond(self, handler: BaseHTTPRequestHandler) -> None:
        answer = self.answer
        handler.close_connection = True  # one answer per connection, then hang up
        handler.send_response(answer.status)
        for name, value in answer.headers.items():
            handler.send_header(name, value.replace("{url}", self.url))
        handler.send_header("Connection", "close")
        if isinstance(answer.body, int):  # no length: the body runs until the connection closes
            handler.end_headers()
            chunk = b"[" + b"1," * (32 * 1024)
            while self.sent < answer.body:
                handler.wfile.write(chunk)
                self.sent += len(chunk)
            return
        if "Content-Length" not in answer.headers:
            handler.send_header("Content-Length", str(len(answer.body)))
        handler.end_headers()
        handler.wfile.write(answer.body)
        self.sent = len(answer.body)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def hostile() -> Iterator[Callable[..., HostileServer]]:
    started: list[HostileServer] = []

    def start(answer: Answer, tls: ssl.SSLContext | None = None) -> HostileServer:
        server = HostileServer(answer, tls)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def unsafe_characters(text: str) -> list[str]:
    """Control characters a terminal would act on (newlines between lines are fine)."""
    return re.findall("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", text)


def assert_failed_cleanly(result: subprocess.CompletedProcess, client_dir: Path) -> str:
    stdout, stderr = result.stdout.decode(), result.stderr.decode()
    assert result.returncode == EXIT_FAILED, stderr
    assert stdout == ""
    assert "Traceback" not in stderr
    assert len(stderr.splitlines()) == 1, stderr
    assert not unsafe_characters(stderr), stderr
    assert history_column(client_dir, "state") == ["failed"]
    return stderr


@pytest.mark.parametrize("case", CASES)
def test_upload_command_survives_a_hostile_answer(
    hostile, run_cli, samples, tmp_path, case
) -> None:
    server = hostile(CASES[case])
    client_dir = tmp_path / "client"
    result = run_cli(
        "upload", "--data-dir", client_dir, "--server", server.url, "--no-copy", "-",
        input=samples.png(),
    )  # fmt: skip
    stderr = assert_failed_cleanly(result, client_dir)
    assert stderr.startswith("picdrop upload: -: ")
    if case == "error with escapes":
        assert "\\u001b" in stderr  # shown, escaped, rather than dropped
    if "huge" in case:
        assert server.finished.wait(TIMEOUT / 1000)
        # Stopped after the cap (plus what socket buffers hold), far from the whole answer.
        assert server.sent < MAX_ANSWER + 16 * 1024 * 1024 < HUGE


def test_a_redirect_from_https_down_to_http_is_not_followed(
    hostile, run_cli, picdrop_env, samples, tmp_path
) -> None:
    openssl = require_program("openssl")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", key, "-out", cert],
        check=True, capture_output=True,
    )  # fmt: skip
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    plain = hostile(as_json(GOOD))  # would answer a good result, if asked
    secure = hostile(
        Answer(307, Location=f"{plain.url}/api/upload", **{"Content-Length": "0"}), tls
    )
    client_dir = tmp_path / "client"
    result = run_cli(
        "upload", "--data-dir", client_dir, "--server", secure.url, "--no-copy", "-",
        input=samples.png(), env=picdrop_env(REQUESTS_CA_BUNDLE=str(cert)),
    )  # fmt: skip
    stderr = assert_failed_cleanly(result, client_dir)
    assert "https down to plain http" in stderr
    assert secure.requests == 1 and plain.requests == 0


@pytest.mark.parametrize("case", CASES)
def test_upload_service_survives_a_hostile_answer(
    hostile, make_service, history, qtbot, samples, case
) -> None:
    """The window's uploads use the same client: a bad answer fails the job with a printable
    sentence, and its history row ends failed."""
    service = make_service(hostile(CASES[case]).url)
    service.enqueue([BytesSource(samples.png(), "hostile.png")])
    (job,) = service.jobs()
    qtbot.waitUntil(lambda: job.state.finished, timeout=TIMEOUT)
    assert job.state is JobState.FAILED
    assert job.error and not unsafe_characters(job.error), job.error
    assert history.get(job.key).state is JobState.FAILED


@pytest.mark.parametrize(
    "text", [f"Refused: {ESCAPES}", '<img src="file:///etc/passwd"> <b>bold</b>\nsecond line']
)
def test_rows_show_server_text_escaped_and_plain(qtbot, history, text) -> None:
    """Whatever text reached a row (an error, an old history row), the window shows it as plain
    text with every control character visible, never as markup."""
    row = UploadRow(Job(key="k", name="a.png", batch="b", state=JobState.FAILED, error=text))
    qtbot.addWidget(row)
    item = HistoryItem(
        key="k", idem_key="k", batch="b", name="a.png", size=1, mime="image/png",
        state=JobState.FAILED, server="http://127.0.0.1:9", created_at=0.0, error=text,
    )  # fmt: skip
    assert row.detail.textFormat() is Qt.TextFormat.PlainText
    assert not unsafe_characters(row.detail.text()) and "\n" not in row.detail.text()
    # History paints its rows as plain text (never markup): the line it paints.
    option = QStyleOptionViewItem()
    option.rect = QRect(0, 0, 4000, ROW_HEIGHT)
    _name_line, (_, _, meta) = HistoryDelegate().row_layout(option, item, None)
    assert text[:8] in meta and not unsafe_characters(meta) and "\n" not in meta


def test_history_prints_stored_server_text_escaped(run_cli, tmp_path) -> None:
    """A row written before answers were checked (or by an older picdrop) still prints safely, as
    text and as JSON lines that decode to what was stored."""
    client_dir = tmp_path / "client"
    store = HistoryStore(client_dir / "history.sqlite3")
    try:
        for key in ("a", "b"):
            store.add_queued(
                HistoryItem(
                    key=key, idem_key=key, batch="b", name=f"{key}.png", size=1,
                    mime="image/png", state=JobState.QUEUED, server="http://127.0.0.1:9",
                    created_at=0.0,
                ),
                b"x",
            )  # fmt: skip
        store.set_done("a", UploadResult(**good_but(url=f"http://127.0.0.1:9/{ESCAPES}.png")))
        store.set_state("b", JobState.FAILED, f"Refused: {ESCAPES}")
    finally:
        store.close()
    text = run_cli("history", "--data-dir", client_dir)
    lines = run_cli("history", "--data-dir", client_dir, "--json")
    for result in (text, lines):
        assert result.returncode == 0, result.stderr
        assert not unsafe_characters(result.stdout.decode()), result.stdout
    rows = {row["name"]: row for row in map(json.loads, lines.stdout.decode().splitlines())}
    assert rows["a.png"]["url"] == f"http://127.0.0.1:9/{ESCAPES}.png"
    assert rows["b.png"]["error"] == f"Refused: {ESCAPES}"


GOOD_ALBUM = {
    "id": "AlBuM12345",
    "url": "http://127.0.0.1:9/a/AlBuM12345",
    "delete_token": "tok_en-123",
    "images": [GOOD, GOOD],
}
# The server's answer to making an album.
ALBUM_CASES: dict[str, Answer] = {
    "non-JSON 201": Answer(201, b"<html>made!</html>", **{"Content-Type": "text/html"}),
    "id walks up paths": as_json({**GOOD_ALBUM, "id": "../../admin"}),
    "url is javascript:": as_json({**GOOD_ALBUM, "url": "javascript:alert(1)"}),
    "ANSI escapes in the url": as_json({**GOOD_ALBUM, "url": f"http://x/a/{ESCAPES}"}),
    "token is null": as_json({**GOOD_ALBUM, "delete_token": None}),
    "images is a number": as_json({**GOOD_ALBUM, "images": 2}),
    "error with escapes": as_json({"error": f"no {ESCAPES} way", "code": f"c{ESCAPES}"}, 400),
    "huge answer": Answer(201, HUGE),
}


@pytest.mark.parametrize("case", ALBUM_CASES)
def test_an_album_from_a_hostile_server_is_one_printable_sentence(hostile, case) -> None:
    from desktop.core.albums import AlbumFailed, AlbumRequest, make_album
    from desktop.core.api import PicdropClient

    server = hostile(ALBUM_CASES[case])
    client = PicdropClient(server.url)
    try:
        with pytest.raises(AlbumFailed) as failed:
            make_album(client, AlbumRequest(server.url, (("img1", "tok1"), ("img2", "tok2"))))
    finally:
        client.close()
    said = str(failed.value)
    assert said.startswith("The album was not made: ") and not unsafe_characters(said)
    assert "\n" not in said and server.sent < MAX_ANSWER + 16 * 1024 * 1024 < HUGE
