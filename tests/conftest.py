"""Shared fixtures: a fresh backend per test, real servers on 127.0.0.1, and the
PICDROP_REQUIRE_ALL switch that turns "component missing, skipped" into a failure."""

from __future__ import annotations

import os

# Qt reads this when the QApplication is created; it must be set before pytest-qt makes one.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Never let a developer's own settings or server leak into a test.
for _name in list(os.environ):
    if _name.startswith("PICDROP_") and _name != "PICDROP_REQUIRE_ALL":
        del os.environ[_name]

import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from backend.server import EmbeddedServer
from backend.settings import Settings

REQUIRE_ALL = os.environ.get("PICDROP_REQUIRE_ALL") == "1"
GENEROUS_LIMITS = {
    "upload_rate": "100000/minute",
    "report_rate": "100000/minute",
    "notfound_rate": "100000/minute",
}


def require(available: bool, what: str) -> None:
    """Skip when a real component is missing, or fail under PICDROP_REQUIRE_ALL=1 (CI)."""
    if available:
        return
    if REQUIRE_ALL:
        pytest.fail(f"{what} is required (PICDROP_REQUIRE_ALL=1) but missing", pytrace=False)
    pytest.skip(f"{what} is missing")


def require_program(name: str) -> str:
    path = shutil.which(name)
    require(path is not None, f"the program {name!r}")
    assert path is not None
    return path


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    return d


@pytest.fixture
def settings_overrides() -> dict:
    """Extra settings for `server_settings`; a test changes them with
    `@pytest.mark.parametrize("settings_overrides", [{"upload_rate": "3/minute"}])`."""
    return {}


@pytest.fixture
def server_settings(data_dir: Path, settings_overrides: dict) -> Settings:
    """Settings for a fresh server on a free port of 127.0.0.1 with its own data directory.

    Rate limits are generous here (tests send many requests from one address); the tests of the
    limits themselves set their own through `settings_overrides`.
    """
    return Settings(
        data_dir=data_dir,
        host="127.0.0.1",
        port=0,
        sweep_interval=0,
        **{**GENEROUS_LIMITS, **settings_overrides},
    )


@pytest.fixture
def live_server(server_settings: Settings) -> Iterator[EmbeddedServer]:
    """A real backend (uvicorn) serving on 127.0.0.1 in a thread of the test process."""
    server = EmbeddedServer(server_settings)
    server.start()
    try:
        yield server
    finally:
        server.stop()


_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class ServerProcess:
    """`python -m backend serve` as a child process (for tests that kill, restart or scale it).

    Settings are passed as `serve` flags (`upload_rate="5/minute"` -> `--upload-rate 5/minute`);
    the server's stderr (its log) goes to `log_path`. `start()` returns once /healthz answers.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        log_path: Path,
        env: dict[str, str] | None = None,
        **settings: object,
    ) -> None:
        self.data_dir = data_dir
        self.log_path = log_path
        self.env = env or {}
        settings = {"host": "127.0.0.1", "port": 0, "sweep_interval": 0, **settings}
        self.args = [sys.executable, "-m", "backend", "serve", "--data-dir", str(data_dir)]
        for name, value in settings.items():
            flag = "--" + name.replace("_", "-")
            if isinstance(value, bool):
                self.args.append(flag if value else "--no-" + flag[2:])
            else:
                self.args += [flag, str(value)]
        self.process: subprocess.Popen | None = None
        self.url = ""

    def start(self, timeout: float = 60.0) -> str:
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.args,
            stdout=subprocess.DEVNULL,
            stderr=log,
            env={**os.environ, **self.env},
            cwd=Path(__file__).resolve().parent.parent,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log()}")
            fresh = self.log_path.read_bytes()[offset:].decode(errors="replace")
            found = re.findall(r"listening on (http://\S+)", fresh)
            if found:
                self.url = found[-1]
                try:
                    with _NO_PROXY.open(self.url + "/healthz", timeout=2) as r:
                        if r.status == 200:
                            return self.url
                except OSError:
                    pass
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"server did not start in {timeout} s:\n{self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(30)

    def stop(self) -> None:
        """SIGTERM (graceful), then SIGKILL after 15 s."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def server_process(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Factory: `server_process(data_dir, **settings)` starts a server process; all are stopped
    at the end of the test. Rate limits default to generous ones, like `server_settings`."""
    started: list[ServerProcess] = []

    def spawn(data_dir: Path | None = None, *, start: bool = True, **settings) -> ServerProcess:
        data_dir = data_dir or tmp_path / "data"
        data_dir.mkdir(parents=True, exist_ok=True)
        server = ServerProcess(
            data_dir,
            log_path=tmp_path / f"server-{len(started)}.log",
            **{**GENEROUS_LIMITS, **settings},
        )
        started.append(server)
        if start:
            server.start()
        return server

    try:
        yield spawn
    finally:
        for server in started:
            server.stop()
