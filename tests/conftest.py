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

import shutil
from collections.abc import Iterator
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
def server_settings(data_dir: Path) -> Settings:
    """Settings for a fresh server on a free port of 127.0.0.1 with its own data directory.

    Rate limits are generous here (tests send many requests from one address); the tests of the
    limits themselves set their own.
    """
    return Settings(
        data_dir=data_dir, host="127.0.0.1", port=0, sweep_interval=0, **GENEROUS_LIMITS
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
