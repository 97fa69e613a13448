"""Outage drills on the scale-out setup as shipped: PostgreSQL, an S3 server and redis-server,
each a process of its own that a test stops and starts again or freezes (SIGSTOP), two replicas
and nginx with deploy/'s config in front. Through nginx, a request that needs the missing
dependency answers 503 with Retry-After and the JSON shape (the replica's answer, not nginx's),
/healthz names the dependency, nginx keeps both replicas in service (requests on one keep-alive
connection after an error are answered), each replica logs a line a second at most, and service
comes back by itself."""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import requests

from backend.settings import Settings, env_name
from tests.backend import imagesamples as samples
from tests.conftest import GENEROUS_LIMITS, require
from tests.services import (
    Nginx,
    Postgres,
    Redis,
    S3Process,
    ServerProcess,
    Unavailable,
    free_port,
    render_nginx_site,
    wait_until,
)

TIMEOUT = 1  # seconds: every dependency timeout of the replicas under test
PATIENCE = 30  # seconds the test client waits: "answered, not hung", never a duration check


def _started(service_class):
    try:
        return service_class().start()
    except Unavailable as exc:
        require(False, str(exc))


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[Postgres]:
    server = _started(Postgres)
    yield server
    server.stop()


@pytest.fixture
def own_redis() -> Iterator[Redis]:
    server = _started(Redis)
    yield server
    server.stop()


@pytest.fixture
def own_s3() -> Iterator[S3Process]:
    server = _started(S3Process)
    yield server
    server.stop()


@dataclass
class Dependency:
    """One dependency of the replicas: how to stop, start and freeze it, and what it is called
    in /healthz, in the error code and in the outage log line."""

    check: str
    code: str | None  # None: the replicas carry on without it (the rate limits fail open)
    log_kind: str
    stop: Callable[[], None]
    start: Callable[[], object]
    pids: Callable[[], list[int]]


@pytest.fixture
def cluster(tmp_path, own_postgres, own_redis, own_s3):
    """Two replicas and nginx over this test's own PostgreSQL, S3 server and Redis."""
    database = own_postgres.create_database()
    bucket = own_s3.create_bucket()
    nginx_port = free_port()
    env = {
        "PICDROP_DATABASE_URL": own_postgres.url(database),
        "PICDROP_STORAGE_URL": f"s3://{bucket}/blobs",
        **own_s3.env(),
        "PICDROP_RATELIMIT_URL": own_redis.url,
        "PICDROP_SECRET_KEY": "the-secret-every-replica-of-this-cluster-shares",
        "PICDROP_PUBLIC_URL": f"http://127.0.0.1:{nginx_port}",
        "PICDROP_WORKERS": "1",
        "PICDROP_SWEEP_INTERVAL": "0",
        **{
            env_name(name): str(TIMEOUT)
            for name in (
                "database_connect_timeout",
                "database_statement_timeout",
                "database_pool_timeout",
                "ratelimit_timeout",
                "s3_connect_timeout",
                "s3_read_timeout",
            )
        },
        "PICDROP_S3_MAX_ATTEMPTS": "1",
        **{env_name(k): v for k, v in GENEROUS_LIMITS.items()},
    }
    replicas = [ServerProcess(env, tmp_path, f"replica-{n}") for n in "ab"]
    nginx = None
    try:
        for r in replicas:
            r.start()
        for r in replicas:
            r.wait()
        site = render_nginx_site(
            listen_port=nginx_port,
            upstreams=[r.address for r in replicas],
            cache_dir=tmp_path / "nginx-cache",
        )
        try:
            nginx = Nginx(site).start()
        except Unavailable as exc:
            require(False, str(exc))
        dependencies = {
            "database": Dependency(
                "database",
                "database_unavailable",
                "database",
                own_postgres.stop_server,
                own_postgres.start_server,
                own_postgres.pids,
            ),
            "store": Dependency(
                "store",
                "storage_unavailable",
                "object store",
                own_s3.stop,
                own_s3.start,
                lambda: [own_s3.proc.pid],
            ),
            "rate_limit_store": Dependency(
                "rate_limit_store",
                None,
                "rate-limit storage",
                own_redis.stop_server,
                own_redis.start,
                lambda: [own_redis.proc.pid],
            ),
        }
        yield nginx, replicas, dependencies
    finally:
        for service in (nginx, *replicas):
            if service is not None:
                service.stop()
        own_postgres.drop_database(database)


@contextlib.contextmanager
def outage(dependency: Dependency, kind: str) -> Iterator[None]:
    if kind == "stopped":
        dependency.stop()
        try:
            yield
        finally:
            dependency.start()
        return
    pids = dependency.pids()
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)


def upload(url: str) -> requests.Response:
    return requests.post(
        f"{url}/api/upload", files={"file": ("a.jpg", samples.unique_jpeg())}, timeout=PATIENCE
    )


def assert_unavailable(r: requests.Response, code: str) -> None:
    assert r.status_code == 503, (r.request.method, r.request.url, r.status_code, r.text)
    assert int(r.headers["Retry-After"]) > 0
    body = r.json()
    assert body["code"] == code and body["error"].endswith("."), body


def requests_needing(nginx: Nginx, dependency: str, image: dict) -> list[Callable]:
    """Requests through nginx that cannot be answered without `dependency`."""
    if dependency == "store":
        return [lambda: upload(nginx.url)]
    token = {"Authorization": f"Bearer {image['delete_token']}"}
    return [
        lambda: upload(nginx.url),
        lambda: requests.get(f"{nginx.url}/api/images/{image['id']}", timeout=PATIENCE),
        lambda: requests.get(f"{nginx.url}/AAAAAAAAAA.jpg", timeout=PATIENCE),
        lambda: requests.get(image["thumbnail_url"], timeout=PATIENCE),
        lambda: requests.delete(
            f"{nginx.url}/api/images/{image['id']}", headers=token, timeout=PATIENCE
        ),
    ]


def on_one_connection(nginx: Nginx, paths: list[str]) -> list[tuple[int, dict]]:
    """GETs one after the other on one keep-alive connection to nginx."""
    conn = http.client.HTTPConnection("127.0.0.1", nginx.port, timeout=PATIENCE)
    answers = []
    try:
        for path in paths:
            conn.request("GET", path)
            r = conn.getresponse()
            answers.append((r.status, r.read()))
    finally:
        conn.close()
    return answers


def health(nginx: Nginx) -> requests.Response:
    return requests.get(f"{nginx.url}/healthz", timeout=PATIENCE)


@pytest.mark.parametrize("kind", ["stopped", "frozen"])
@pytest.mark.parametrize("name", ["database", "store", "rate_limit_store"])
def test_a_dependency_outage_through_nginx(cluster, name, kind):
    nginx, replicas, dependencies = cluster
    dependency = dependencies[name]
    image = upload(nginx.url).json()
    started = time.monotonic()
    with outage(dependency, kind):
        if dependency.code is None:  # fails open: uploads go on, health says what is missing
            for _ in range(2):
                r = upload(nginx.url)
                assert r.status_code == 201, r.text
            checked = health(nginx)
            assert checked.status_code == 200
            assert checked.json()["checks"][name] == "down"
        else:
            for ask in requests_needing(nginx, name, image):
                assert_unavailable(ask(), dependency.code)
            checked = health(nginx)
            assert checked.status_code == 503 and int(checked.headers["Retry-After"]) > 0
            assert checked.json()["checks"][name] == "down"
        # nginx keeps both replicas in service: every request on this connection is answered
        # by a replica (its /healthz names the dependency), none by nginx's "no live upstream".
        answers = on_one_connection(nginx, ["/healthz"] * 6 + ["/livez"])
        assert [status for status, _ in answers[:-1]] == [checked.status_code] * 6
        assert all(b'"checks"' in body for _, body in answers[:-1])
        assert answers[-1][0] == 200
    seconds = time.monotonic() - started  # lines may come until the dependency is back
    lines = [
        [line for line in r.log().splitlines() if f"{dependency.log_kind} unavailable" in line]
        for r in replicas
    ]
    assert sum(map(len, lines)) >= 1
    # A line a second at most from each process of a replica (each has its own outage log; a
    # process uvicorn restarts meanwhile logs its start-up waits, a line a try, as often).
    per_replica = Settings().process_count * (seconds + 1)
    assert all(len(each) <= per_replica for each in lines), lines
    tracebacks = [r.log() for r in replicas if re.search(r"^Traceback", r.log(), flags=re.M)]
    assert not tracebacks, tracebacks[0][-6000:] if tracebacks else ""

    # Back without a restart of anything of ours.
    wait_until(lambda: health(nginx).status_code == 200, PATIENCE, "recovery")
    wait_until(lambda: set(health(nginx).json()["checks"].values()) == {"ok"}, PATIENCE, "ok")
    assert upload(nginx.url).status_code == 201


@pytest.mark.parametrize("kind", ["stopped", "frozen"])
def test_a_replica_started_during_a_database_outage_comes_up_with_the_database(
    tmp_path, own_postgres, kind
):
    """Every process of a replica (two here) starts while PostgreSQL is out: each waits for it,
    saying so in a line, instead of failing its start-up (which stops the whole replica)."""
    database = own_postgres.create_database()
    dependency = Dependency(
        "database", "database_unavailable", "database",
        own_postgres.stop_server, own_postgres.start_server, own_postgres.pids,
    )  # fmt: skip
    replica = ServerProcess(
        {
            "PICDROP_DATABASE_URL": own_postgres.url(database),
            "PICDROP_PROCESSES": "2",
            "PICDROP_DATABASE_CONNECT_TIMEOUT": str(TIMEOUT),
            "PICDROP_DATABASE_STATEMENT_TIMEOUT": str(TIMEOUT),
        },
        tmp_path,
    )
    try:
        with outage(dependency, kind):
            replica.start()
            waiting = "database unavailable at start"
            wait_until(lambda: replica.log().count(waiting) >= 2, PATIENCE, "both waiting")
            assert replica.proc.poll() is None, replica.log()
        replica.wait()
        assert (
            requests.post(
                f"{replica.url}/api/upload",
                files={"file": ("a.jpg", samples.unique_jpeg())},
                timeout=PATIENCE,
            ).status_code
            == 201
        )
        assert not re.search(r"^Traceback", replica.log(), flags=re.M), replica.log()
    finally:
        replica.stop()
        own_postgres.drop_database(database)
