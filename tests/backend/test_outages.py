"""Dependency outages on the scale-out engines: PostgreSQL, an S3 store and Redis, each a real
server that the test stops, restarts or freezes (SIGSTOP). A request that needs a missing
dependency answers 503 with Retry-After and the JSON error shape within the configured timeouts,
never hangs, never a 500, never a reset connection; /healthz names the dependency; service comes
back by itself; the log gets a line a second per kind of outage, not a traceback per request."""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import json
import logging
import os
import signal
import socket
import time
from collections.abc import Iterator

import pytest
import requests

from backend.server import EmbeddedServer
from backend.settings import Settings
from tests.backend import imagesamples as samples
from tests.conftest import GENEROUS_LIMITS, require
from tests.services import Postgres, Redis, Unavailable, wait_until

TIMEOUT = 1  # seconds: every dependency timeout of the servers under test
PATIENCE = 30  # seconds the test client waits: "answered, not hung", never a duration check
UNKNOWN_ID = "AAAAAAAAAA"


def _started(service):
    try:
        return service.start()
    except Unavailable as exc:
        require(False, str(exc))


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[Postgres]:
    """A cluster of its own: these tests stop and freeze it."""
    server = _started(Postgres())
    yield server
    server.stop()


@pytest.fixture
def own_redis() -> Iterator[Redis]:
    server = _started(Redis())
    yield server
    server.stop()


@contextlib.contextmanager
def frozen(pids: list[int]) -> Iterator[None]:
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)


@pytest.fixture
def settings(data_dir, own_postgres, own_redis, s3_server, s3_bucket) -> Iterator[Settings]:
    database = own_postgres.create_database()
    yield Settings(
        data_dir=data_dir,
        host="127.0.0.1",
        port=0,
        sweep_interval=0,
        database_url=own_postgres.url(database),
        ratelimit_url=own_redis.url,
        database_connect_timeout=TIMEOUT,
        database_statement_timeout=TIMEOUT,
        database_pool_timeout=TIMEOUT,
        ratelimit_timeout=TIMEOUT,
        **s3_settings(s3_server, s3_bucket),
        **GENEROUS_LIMITS,
    )
    own_postgres.drop_database(database)


def s3_settings(s3_server, bucket: str) -> dict:
    """The store in `bucket` of the test's S3 server, with this module's short timeouts."""
    return {
        "storage_url": f"s3://{bucket}/blobs",
        "s3_endpoint_url": s3_server.endpoint_url,
        "s3_region": s3_server.region,
        "s3_access_key_id": s3_server.access_key,
        "s3_secret_access_key": s3_server.secret_key,
        "s3_connect_timeout": TIMEOUT,
        "s3_read_timeout": TIMEOUT,
        "s3_max_attempts": 1,
    }


@contextlib.contextmanager
def serving(settings: Settings) -> Iterator[EmbeddedServer]:
    server = EmbeddedServer(settings)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def upload(server: EmbeddedServer) -> requests.Response:
    return requests.post(
        f"{server.url}/api/upload",
        files={"file": ("a.jpg", samples.unique_jpeg())},
        timeout=PATIENCE,
    )


def assert_unavailable(r: requests.Response, code: str) -> None:
    assert r.status_code == 503, (r.request.method, r.request.url, r.status_code, r.text)
    assert int(r.headers["Retry-After"]) > 0
    body = r.json()
    assert body["code"] == code and body["error"].endswith("."), body


def requests_needing_the_catalog(server: EmbeddedServer, image: dict) -> dict:
    """What a client may ask while the catalog is away, each answered 503."""
    return {
        "upload": lambda: upload(server),
        "metadata": lambda: requests.get(
            f"{server.url}/api/images/{image['id']}", timeout=PATIENCE
        ),
        "first view": lambda: requests.get(f"{server.url}/{UNKNOWN_ID}.jpg", timeout=PATIENCE),
        "thumbnail": lambda: requests.get(image["thumbnail_url"], timeout=PATIENCE),
        "delete": lambda: requests.delete(
            f"{server.url}/api/images/{image['id']}",
            headers={"Authorization": f"Bearer {image['delete_token']}"},
            timeout=PATIENCE,
        ),
    }


def health(server: EmbeddedServer) -> requests.Response:
    return requests.get(f"{server.url}/healthz", timeout=PATIENCE)


def two_requests_on_one_connection(server: EmbeddedServer, first: str) -> tuple[int, int]:
    """`first`, then /livez on the same keep-alive connection (nginx reuses it the same way)."""
    host, port = server.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=PATIENCE)
    try:
        conn.request("GET", first)
        one = conn.getresponse()
        one.read()
        conn.request("GET", "/livez")
        two = conn.getresponse()
        two.read()
        return one.status, two.status
    finally:
        conn.close()


def outage_lines(caplog, kind: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage().startswith(f"{kind} unavailable")]


def assert_one_line_a_second(records: list[logging.LogRecord], started: float) -> None:
    seconds = time.monotonic() - started
    assert 1 <= len(records) <= seconds + 1, [r.getMessage() for r in records]
    assert not any(r.exc_info for r in records)  # no traceback per request


# -- PostgreSQL ---------------------------------------------------------------------------------
@pytest.mark.parametrize("outage", ["stopped", "frozen"])
def test_database_outage_answers_503_and_service_comes_back(settings, own_postgres, outage, caplog):
    caplog.set_level(logging.INFO)
    with serving(settings) as server:
        image = upload(server).json()
        assert health(server).status_code == 200
        started = time.monotonic()
        if outage == "stopped":
            own_postgres.stop_server()
            context = contextlib.nullcontext()
        else:
            context = frozen(own_postgres.pids())
        try:
            with context:
                for ask in requests_needing_the_catalog(server, image).values():
                    assert_unavailable(ask(), "database_unavailable")
                checked = health(server)
                assert checked.status_code == 503 and int(checked.headers["Retry-After"]) > 0
                assert checked.json()["checks"]["database"] == "down"
                assert checked.json()["checks"]["store"] == "ok"
                assert checked.json()["code"] == "unavailable"
                path = f"/api/images/{image['id']}"
                assert two_requests_on_one_connection(server, path) == (503, 200)
                assert_one_line_a_second(outage_lines(caplog, "database"), started)
        finally:
            if outage == "stopped":
                own_postgres.start_server()
        wait_until(lambda: health(server).status_code == 200, PATIENCE, "recovery")
        meta = requests.get(f"{server.url}/api/images/{image['id']}", timeout=PATIENCE)
        assert meta.status_code == 200
        assert upload(server).status_code == 201


# -- Redis (the rate limits fail open) ----------------------------------------------------------
@pytest.mark.parametrize("outage", ["stopped", "frozen"])
def test_rate_limit_store_outage_lets_requests_through(settings, own_redis, outage, caplog):
    with serving(settings) as server:
        assert upload(server).status_code == 201
        started = time.monotonic()
        if outage == "stopped":
            own_redis.stop_server()
            context = contextlib.nullcontext()
        else:
            context = frozen([own_redis.proc.pid])
        try:
            with context:
                for _ in range(2):
                    r = upload(server)
                    assert r.status_code == 201, r.text
                    assert requests.get(r.json()["url"], timeout=PATIENCE).status_code == 200
                checked = health(server)
                assert checked.status_code == 200  # not fatal: the limits are only loosened
                assert checked.json()["checks"]["rate_limit_store"] == "down"
                assert_one_line_a_second(outage_lines(caplog, "rate-limit storage"), started)
        finally:
            if outage == "stopped":
                own_redis.start()
        wait_until(
            lambda: health(server).json()["checks"]["rate_limit_store"] == "ok",
            PATIENCE,
            "recovery",
        )


def test_replica_started_while_redis_is_down_serves_reads_and_uploads(settings, own_redis):
    own_redis.stop_server()
    with serving(settings) as server:
        r = upload(server)
        assert r.status_code == 201, r.text
        assert requests.get(r.json()["url"], timeout=PATIENCE).status_code == 200
        meta = requests.get(f"{server.url}/api/images/{r.json()['id']}", timeout=PATIENCE)
        assert meta.status_code == 200
        assert health(server).status_code == 200


# -- the object store ---------------------------------------------------------------------------
@pytest.fixture
def frozen_endpoint() -> Iterator[str]:
    """An S3 endpoint that accepts connections and never answers, like a frozen server."""
    with socket.create_server(("127.0.0.1", 0), backlog=64) as listener:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


def test_frozen_object_store_answers_503_within_its_timeouts(data_dir, frozen_endpoint, caplog):
    settings = Settings(
        data_dir=data_dir,
        host="127.0.0.1",
        port=0,
        sweep_interval=0,
        storage_url="s3://frozen/blobs",
        s3_endpoint_url=frozen_endpoint,
        s3_access_key_id="k",
        s3_secret_access_key="s",
        s3_connect_timeout=TIMEOUT,
        s3_read_timeout=TIMEOUT,
        s3_max_attempts=1,
        **GENEROUS_LIMITS,
    )
    with serving(settings) as server:
        started = time.monotonic()
        for _ in range(2):
            assert_unavailable(upload(server), "storage_unavailable")
        checked = health(server)
        assert checked.status_code == 503
        assert json.loads(checked.text)["checks"] == {
            "database": "ok",
            "store": "down",
            "rate_limit_store": "ok",
        }
        assert two_requests_on_one_connection(server, "/healthz") == (503, 200)
        assert_one_line_a_second(outage_lines(caplog, "object store"), started)


@pytest.mark.parametrize("what", ["image", "thumbnail"])
def test_views_the_object_store_cannot_answer_are_503_and_the_connection_lives(
    data_dir, s3_server, s3_bucket, frozen_endpoint, what
):
    """An image stored while the store was up, viewed by a fresh replica (nothing cached) while
    the store is frozen: 503 with Retry-After, and the keep-alive connection still serves."""
    stored = Settings(
        data_dir=data_dir,
        host="127.0.0.1",
        port=0,
        sweep_interval=0,
        **s3_settings(s3_server, s3_bucket),
        **GENEROUS_LIMITS,
    )
    with serving(stored) as server:
        image = upload(server).json()
    path = {"image": image["url"], "thumbnail": image["thumbnail_url"]}[what]
    path = path.removeprefix(server.url)
    with serving(dataclasses.replace(stored, s3_endpoint_url=frozen_endpoint)) as server:
        assert_unavailable(requests.get(server.url + path, timeout=PATIENCE), "storage_unavailable")
        assert two_requests_on_one_connection(server, path) == (503, 200)
