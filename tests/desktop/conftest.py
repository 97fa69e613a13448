"""Desktop fixtures: sample images, a history store, the upload service wired to a real backend,
a fault-injecting HTTP proxy, and a backend in a subprocess that a test can kill."""

from __future__ import annotations

import gc
import http.client
import io
import json
import os
import random
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from PIL import Image

import backend
from backend.settings import env_name
from desktop.core.config import AppConfig
from desktop.core.history import HistoryStore
from desktop.core.retry import RetryPolicy
from tests.services import ServerProcess, free_port

HERE = Path(__file__).resolve().parent
# Child processes import the same backend and desktop code as this process.
REPO = Path(backend.__file__).resolve().parent.parent


# -- images ------------------------------------------------------------------------------------
def png_bytes(width: int = 64, height: int = 48, color: str = "tomato") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "PNG")
    return out.getvalue()


def noise_png(side: int, seed: int = 0) -> bytes:
    """Incompressible pixels: the PNG is about side*side*3 bytes, for slow, observable uploads."""
    rng = random.Random(seed)
    image = Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3))
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=0)
    return out.getvalue()


def jpeg_with_gps(color: str = "steelblue") -> bytes:
    """A JPEG carrying a camera model and a GPS position in its EXIF."""
    image = Image.new("RGB", (80, 60), color)
    exif = Image.Exif()
    exif[0x0110] = "Test Camera X100"  # Model
    exif[0x010F] = "Picdrop Optics"  # Make
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (52.0, 31.0, 12.0)
    gps[3] = "E"
    gps[4] = (13.0, 24.0, 36.0)
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, quality=90)
    return out.getvalue()


def bmp_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), "green").save(out, "BMP")
    return out.getvalue()


class Samples:
    """Sample image bytes, as a fixture (test modules cannot import conftest)."""

    png = staticmethod(png_bytes)
    noise_png = staticmethod(noise_png)
    jpeg_with_gps = staticmethod(jpeg_with_gps)
    bmp = staticmethod(bmp_bytes)


@pytest.fixture
def samples() -> type[Samples]:
    return Samples


@pytest.fixture
def images(tmp_path: Path) -> Callable[..., list[Path]]:
    """`images(3)` writes three distinct PNG files and returns their paths."""

    def make(count: int, folder: str = "pics", side: int = 0) -> list[Path]:
        root = tmp_path / folder
        root.mkdir(exist_ok=True)
        paths = []
        for i in range(count):
            path = root / f"picture-{i + 1}.png"
            data = noise_png(side, seed=i) if side else png_bytes(40 + i, 30 + i, "tomato")
            path.write_bytes(data)
            paths.append(path)
        return paths

    return make


@pytest.fixture
def hosted(live_server) -> Callable[[bytes], dict]:
    """`hosted(data)` puts an image on the live server as any client would: its JSON answer
    (`url`, `page_url`, `id`...), for tests that drop or download a link."""

    def host(data: bytes) -> dict:
        answer = requests.post(
            f"{live_server.url}/api/upload", files={"file": ("hosted.png", data)}, timeout=10
        )
        answer.raise_for_status()
        return answer.json()

    return host


# -- app pieces ----------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def collect_qt_garbage(qapp) -> Iterator[None]:
    """Python's cycle collector may run on a server or worker thread and destroy a Qt object
    there, which crashes Qt. As in the app (desktop.gc_guard), collect only on the GUI thread:
    off during the test, a full collection at its end."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect()


def delete_qobject(obj) -> None:
    """Destroy a Python-owned QObject now, on the GUI thread."""
    import shiboken6

    if shiboken6.isValid(obj):
        shiboken6.delete(obj)


@pytest.fixture
def qsettings(tmp_path: Path):
    """The app's settings in an INI file of this test's own."""
    from PySide6.QtCore import QSettings

    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def picdrop_app(qapp, qsettings, tmp_path: Path):
    """Factory: the real app wiring (PicdropApp), its data in this test's directory; keyword
    arguments go to PicdropApp. Every app made is shut down and deleted after the test."""
    from desktop.app import PicdropApp

    made = []
    quit_on_close = qapp.quitOnLastWindowClosed()

    def make(**kw):
        app = PicdropApp(qapp, data_dir=tmp_path / "app-data", qsettings=qsettings, **kw)
        made.append(app)
        return app

    yield make
    for app in made:
        if app.capture_flow.editor is not None:
            delete_qobject(app.capture_flow.editor)
        app.window.close_to_tray = False
        app.window.close()
        app.shutdown()
        delete_qobject(app.window)
        delete_qobject(app)
    qapp.setQuitOnLastWindowClosed(quit_on_close)


FAST_RETRY = RetryPolicy(max_attempts=30, base=0.02, cap=0.25)


@pytest.fixture
def history(tmp_path: Path) -> Iterator[HistoryStore]:
    store = HistoryStore(tmp_path / "client" / "history.sqlite3")
    yield store
    store.close()


@pytest.fixture
def make_service(qtbot, history: HistoryStore):
    """Build an UploadService for a server URL; shut down (workers joined) after the test."""
    from desktop.service import UploadService

    made: list[UploadService] = []

    def make(url: str, **kw) -> UploadService:
        kw.setdefault("policy", FAST_RETRY)
        service = UploadService(history, url, **kw)
        made.append(service)
        return service

    yield make
    for service in made:
        service.shutdown()
        delete_qobject(service)


@pytest.fixture
def make_window(qtbot, history: HistoryStore, qapp):
    """A MainWindow on an UploadService, with the real (offscreen) clipboard."""
    from desktop.app import connect_server_actions
    from desktop.clipboard import LinkCopier
    from desktop.server_actions import ServerActions
    from desktop.ui.main_window import MainWindow

    def make(service, config: AppConfig | None = None) -> MainWindow:
        config = config or AppConfig()
        copier = LinkCopier(service, qapp.clipboard(), lambda: config, parent=service)
        window = MainWindow(service, history, config, copier)
        connect_server_actions(ServerActions(history, parent=service), window, service)
        qtbot.addWidget(window)
        window.show()
        return window

    return make


class ServerCatalog:
    """What a backend has stored, read straight from its SQLite catalog."""

    @staticmethod
    def _query(data_dir: Path, sql: str) -> list[tuple]:
        db = sqlite3.connect(data_dir / "picdrop.db")
        try:
            return db.execute(sql).fetchall()
        finally:
            db.close()

    def count(self, data_dir: Path) -> int:
        return self._query(data_dir, "SELECT COUNT(*) FROM images")[0][0]

    def sha256s(self, data_dir: Path) -> list[str]:
        return [r[0] for r in self._query(data_dir, "SELECT sha256 FROM images")]


@pytest.fixture
def catalog() -> ServerCatalog:
    return ServerCatalog()


# -- a real HTTP proxy that injects faults ---------------------------------------------------------
class FaultProxy:
    """A reverse proxy in front of the real backend.

    - `fail_uploads=N`: the first N upload requests are forwarded to the backend in full (so the
      backend may store the image), but the client gets a 503 instead of the real answer: a lost
      response, the case idempotency exists for.
    - `rate`: bytes per second at which request bodies are read from the client (a slow link).
    - `missing`: path prefixes answered 404 as a server without those routes does (an older
      picdrop), without asking the backend.
    """

    def __init__(
        self,
        upstream: str,
        *,
        fail_uploads: int = 0,
        rate: float | None = None,
        missing: tuple[str, ...] = (),
    ):
        self.upstream = urlsplit(upstream)
        self.fail_uploads = fail_uploads
        self.rate = rate
        self.missing = missing
        self.upload_attempts = 0
        self.active_uploads = 0  # upload requests whose body is still being received
        self.body_bytes = 0  # upload body bytes received from clients
        self.idempotency_keys: list[str] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                proxy._forward(self)

            do_POST = do_PUT = do_DELETE = do_HEAD = do_GET

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _pipe_body(self, handler, upstream, length: int, is_upload: bool) -> bool:
        remaining = length
        while remaining:
            chunk = handler.rfile.read(min(64 * 1024, remaining))
            if not chunk:
                return False
            upstream.send(chunk)
            remaining -= len(chunk)
            if is_upload:
                with self._lock:
                    self.body_bytes += len(chunk)
            if self.rate:
                time.sleep(len(chunk) / self.rate)  # simulated link speed, not a test wait
        return True

    def _forward(self, handler: BaseHTTPRequestHandler) -> None:
        if self.missing and handler.path.startswith(self.missing):
            handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
            self._answer(handler, 404, {"error": "There is nothing at this address.",
                                        "code": "not_found"})  # fmt: skip
            return
        is_upload = handler.command == "POST" and handler.path.startswith("/api/upload")
        fail = False
        if is_upload:
            with self._lock:
                self.upload_attempts += 1
                self.idempotency_keys.append(handler.headers.get("Idempotency-Key", ""))
                fail = self.upload_attempts <= self.fail_uploads
        upstream = http.client.HTTPConnection(
            self.upstream.hostname, self.upstream.port, timeout=60
        )
        try:
            length = int(handler.headers.get("Content-Length") or 0)
            upstream.putrequest(
                handler.command, handler.path, skip_host=True, skip_accept_encoding=True
            )
            for name, value in handler.headers.items():
                if name.lower() not in ("connection", "keep-alive"):
                    upstream.putheader(name, value)
            upstream.putheader("Connection", "close")
            upstream.endheaders()
            if is_upload:
                with self._lock:
                    self.active_uploads += 1
            try:
                complete = self._pipe_body(handler, upstream, length, is_upload)
            finally:
                if is_upload:
                    with self._lock:
                        self.active_uploads -= 1
            if not complete:  # the client went away mid-body: so does the proxy
                handler.close_connection = True
                return
            response = upstream.getresponse()
            body = response.read()
        except OSError:
            handler.close_connection = True
            return
        finally:
            upstream.close()
        if fail:
            body = json.dumps(
                {"error": "The server is busy, try again shortly.", "code": "unavailable"}
            ).encode()
            handler.send_response(503)
            handler.send_header("Content-Type", "application/json")
        else:
            handler.send_response(response.status)
            for name, value in response.getheaders():
                if name.lower() not in (
                    "connection",
                    "keep-alive",
                    "transfer-encoding",
                    "content-length",
                    "date",
                    "server",
                ):
                    handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(body)

    @staticmethod
    def _answer(handler: BaseHTTPRequestHandler, status: int, payload: dict) -> None:
        body = json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)


@pytest.fixture
def fault_proxy() -> Iterator[Callable[..., FaultProxy]]:
    started: list[FaultProxy] = []

    def make(upstream: str, **kw) -> FaultProxy:
        proxy = FaultProxy(upstream, **kw).start()
        started.append(proxy)
        return proxy

    yield make
    for proxy in started:
        proxy.stop()


# -- processes ----------------------------------------------------------------------------
def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PICDROP_")}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["QT_QPA_PLATFORM"] = "offscreen"
    env.update(extra)
    return env


@pytest.fixture
def backend_process(tmp_path: Path):
    """The backend in its own process, so a test can SIGKILL it and start it again on the same
    port and data directory (`.start().wait()`, `.kill()`, `.url`, `.data_dir`)."""
    from tests.conftest import GENEROUS_LIMITS

    env = {
        "PICDROP_DATA_DIR": str(tmp_path / "server-data"),
        "PICDROP_PORT": str(free_port()),
        "PICDROP_SWEEP_INTERVAL": "0",
        **{env_name(k): v for k, v in GENEROUS_LIMITS.items()},
    }
    backend = ServerProcess(env, tmp_path, "backend")
    yield backend
    backend.stop()


def history_column(data_dir: Path, column: str, state: str | None = None) -> list[str]:
    """One column of an app's upload history, read from outside (read-only), sorted; [] until
    the app has created it."""
    path = data_dir / "history.sqlite3"
    if not path.exists():
        return []
    query = f"SELECT {column} FROM uploads" + (" WHERE state = ?" if state else "")
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            return sorted(r[0] for r in db.execute(query, (state,) if state else ()))
        finally:
            db.close()
    except sqlite3.OperationalError:  # created, schema not written yet
        return []


# -- single instance, command line, X server -----------------------------------------------------
@pytest.fixture
def run_dir() -> Iterator[Path]:
    """TMPDIR and XDG_RUNTIME_DIR for child processes (private: mkdtemp makes it 0700): the app's
    instance socket and lock file go in a directory below it. Short, as a Unix socket path must
    stay under 108 bytes (pytest's tmp_path can be longer)."""
    import shutil
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="pd-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def instance_address(run_dir: Path, data_dir: Path) -> str:
    """The running app's socket, as a child with `picdrop_env` finds it."""
    from unittest import mock

    from desktop.core import ipc

    with mock.patch.dict(os.environ, {"XDG_RUNTIME_DIR": str(run_dir)}):
        return ipc.instance_address(data_dir)


@pytest.fixture
def picdrop_env(tmp_path: Path, run_dir: Path) -> Callable[..., dict[str, str]]:
    """Environment for `python -m desktop` children: own settings store, own socket folder."""

    def make(**extra: str) -> dict[str, str]:
        env = child_env(
            XDG_CONFIG_HOME=str(tmp_path / "config"),
            TMPDIR=str(run_dir),
            XDG_RUNTIME_DIR=str(run_dir),
        )
        env.pop("DISPLAY", None)
        env.pop("WAYLAND_DISPLAY", None)
        env.update(extra)
        return env

    return make


@pytest.fixture
def run_cli(picdrop_env) -> Callable[..., subprocess.CompletedProcess]:
    """`run_cli("upload", "a.png", input=b"...")`: the `picdrop` command as a child process."""

    def run(*args: str, input: bytes | None = None, env: dict[str, str] | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess:  # fmt: skip
        return subprocess.run(
            [sys.executable, "-m", "desktop", *map(str, args)],
            cwd=REPO,
            input=input if input is not None else b"",
            capture_output=True,
            env=env or picdrop_env(),
            timeout=timeout,
        )

    return run


@pytest.fixture
def app_process(picdrop_env, tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen]]:
    """Start the app (`python -m desktop`, offscreen) as a child; SIGKILLed after the test. Its
    log goes to a file (`child.log_path`): a pipe nobody reads could fill up and stall it."""
    children: list[subprocess.Popen] = []

    def launch(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        log_path = tmp_path / f"app-{len(children) + 1}.log"
        with log_path.open("wb") as log:
            child = subprocess.Popen(
                [sys.executable, "-m", "desktop", *map(str, args)],
                cwd=REPO,
                env=env or picdrop_env(),
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        child.log_path = log_path
        children.append(child)
        return child

    yield launch
    for child in children:
        if child.poll() is None:
            child.kill()
        child.wait()


@pytest.fixture
def xvfb() -> Iterator[str]:
    """A fresh Xvfb (1024x768, 24 bit); yields its DISPLAY. Skips, or fails in CI, without it."""
    from tests.conftest import require_program

    binary = require_program("Xvfb")
    read_fd, write_fd = os.pipe()
    process = subprocess.Popen(
        [binary, "-displayfd", str(write_fd), "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        number = pipe.readline().strip()  # written once Xvfb accepts clients
    if not number:
        process.kill()
        process.wait()
        pytest.fail("Xvfb did not start")
    try:
        yield f":{number}"
    finally:
        process.terminate()
        process.wait()
