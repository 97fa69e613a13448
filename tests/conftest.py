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
from backend.settings import Settings, env_name

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


def optional_program(name: str, how_to_get_it: str) -> str:
    """A program that is not part of the test machines' setup (it is not packaged for Debian and
    CI downloads nothing): skipped with a reason when missing, even under PICDROP_REQUIRE_ALL."""
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"the optional program {name!r} is missing: {how_to_get_it}")
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


@pytest.fixture
def server_process(tmp_path: Path):
    """Factory: `server_process(data_dir, **settings)` starts `python -m backend serve` as a child
    process (for tests that kill or restart it) and returns it once /healthz answers; all are
    stopped at the end of the test. Rate limits default to generous ones, like `server_settings`;
    one process unless `processes=N` says otherwise."""
    from tests.services import ServerProcess

    started: list[ServerProcess] = []

    def spawn(data_dir: Path | None = None, **settings) -> ServerProcess:
        values = {"sweep_interval": 0, "processes": 1, **GENEROUS_LIMITS, **settings}
        env = {env_name(k): _env_value(v) for k, v in values.items()}
        env["PICDROP_DATA_DIR"] = str(data_dir or tmp_path / "data")
        server = ServerProcess(env, tmp_path, f"server-{len(started)}")
        started.append(server)
        return server.start().wait()

    try:
        yield spawn
    finally:
        for server in started:
            server.stop()


def _env_value(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)
