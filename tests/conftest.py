"""Shared fixtures: a fresh backend per test, real servers on 127.0.0.1, and the
PICDROP_REQUIRE_ALL switch that turns "component missing, skipped" into a failure."""

from __future__ import annotations

import os

# Qt reads this when the QApplication is created; it must be set before pytest-qt makes one.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Never let a developer's own settings or server leak into a test. (The two kept are switches of
# the test run itself: require every component; write screenshots to docs/screenshots.)
for _name in list(os.environ):
    if _name.startswith("PICDROP_") and _name not in ("PICDROP_REQUIRE_ALL", "PICDROP_SCREENSHOTS"):
        del os.environ[_name]

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from backend.server import EmbeddedServer
from backend.settings import Settings

REQUIRE_ALL = os.environ.get("PICDROP_REQUIRE_ALL") == "1"


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
    """Settings for a fresh server on a free port of 127.0.0.1 with its own data directory."""
    return Settings(data_dir=data_dir, host="127.0.0.1", port=0, sweep_interval=0)


@pytest.fixture
def live_server(server_settings: Settings) -> Iterator[EmbeddedServer]:
    """A real backend (uvicorn) serving on 127.0.0.1 in a thread of the test process."""
    server = EmbeddedServer(server_settings)
    server.start()
    try:
        yield server
    finally:
        server.stop()


# -- real services for the scale-out setup (tests/services.py) ----------------------------------
def _start(service_class):
    from tests import services

    try:
        service = service_class()
        return service.start()
    except services.Unavailable as exc:
        require(False, str(exc))


@pytest.fixture(scope="session")
def postgres():
    """One PostgreSQL server for the session (initdb + pg_ctl); `pg_url` gives each test a
    database of its own."""
    from tests.services import Postgres

    server = _start(Postgres)
    yield server
    server.stop()


@pytest.fixture
def pg_url(postgres) -> Iterator[str]:
    name = postgres.create_database()
    yield postgres.url(name)
    postgres.drop_database(name)


@pytest.fixture(scope="session")
def s3_server():
    """One S3 protocol server (moto) for the session; `s3_bucket` gives each test a bucket."""
    from tests.services import S3Server

    server = _start(S3Server)
    yield server
    server.stop()


@pytest.fixture
def s3_bucket(s3_server) -> Iterator[str]:
    name = s3_server.create_bucket()
    yield name
    s3_server.delete_bucket(name)


@pytest.fixture(scope="session")
def redis_server():
    from tests.services import Redis

    server = _start(Redis)
    yield server
    server.stop()
