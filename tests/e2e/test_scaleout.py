"""The scale-out setup end to end, every part real and on 127.0.0.1: PostgreSQL, an S3 server,
redis-server, two replicas as separate processes (`python -m backend serve`) and nginx in front
of them with the config from deploy/."""

from __future__ import annotations

import hashlib
import itertools
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from backend.settings import env_name
from tests.backend import imagesamples as samples
from tests.catalog_rows import matches_blob_key
from tests.conftest import GENEROUS_LIMITS, require
from tests.services import Nginx, ServerProcess, Unavailable, free_port, render_nginx_site


@dataclass
class Cluster:
    nginx: Nginx
    replicas: list[ServerProcess]
    s3_client: object
    bucket: str
    workdir: Path
    session: requests.Session = field(default_factory=requests.Session)

    @property
    def url(self) -> str:
        return self.nginx.url

    def upload(self, data: bytes, base: str | None = None, **kw) -> requests.Response:
        return self.session.post(
            f"{base or self.url}/api/upload", files={"file": ("x.jpg", data)}, timeout=60, **kw
        )

    def objects(self) -> list[str]:
        listed = self.s3_client.list_objects_v2(Bucket=self.bucket).get("Contents", [])
        return sorted(o["Key"] for o in listed)

    def requests_seen(self, replica: ServerProcess, needle: str) -> int:
        return sum(needle in line for line in replica.log().splitlines())


@pytest.fixture
def make_cluster(tmp_path, pg_url, s3_server, s3_bucket, redis_server):
    """Starts the whole setup; extra PICDROP_* settings for the replicas may be given."""
    started: list = []

    def make(extra_env: dict[str, str] | None = None, cache_valid: str = "1s") -> Cluster:
        nginx_port = free_port()
        env = {
            "PICDROP_DATABASE_URL": pg_url,
            "PICDROP_STORAGE_URL": f"s3://{s3_bucket}/blobs",
            **s3_server.env(),
            "PICDROP_RATELIMIT_URL": redis_server.url,
            "PICDROP_SECRET_KEY": "the-secret-every-replica-of-this-cluster-shares",
            "PICDROP_PUBLIC_URL": f"http://127.0.0.1:{nginx_port}",
            "PICDROP_WORKERS": "1",
            "PICDROP_DATABASE_POOL_SIZE": "4",
            **{env_name(k): v for k, v in GENEROUS_LIMITS.items()},
            **(extra_env or {}),
        }
        replicas = [ServerProcess(env, tmp_path, f"replica-{n}") for n in "ab"]
        for r in replicas:  # both start (and migrate the empty database) at once
            started.append(r.start())
        for r in replicas:
            r.wait()
        site = render_nginx_site(
            listen_port=nginx_port,
            upstreams=[r.address for r in replicas],
            cache_dir=tmp_path / "nginx-cache",
            cache_valid=cache_valid,  # the deploy config says 1m; a test cannot wait that long
        )
        try:
            nginx = Nginx(site)
        except Unavailable as exc:
            require(False, str(exc))
        started.append(nginx.start())
        return Cluster(nginx, replicas, s3_server.client(), s3_bucket, tmp_path)

    yield make
    for service in reversed(started):
        service.stop()
    redis_server.flush()


def test_an_upload_through_nginx_is_served_by_both_replicas(make_cluster):
    cluster = make_cluster()
    a, b = cluster.replicas
    data = samples.unique_jpeg(size=(320, 240))
    r = cluster.upload(data)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["url"] == f"{cluster.url}/{body['id']}.jpg"
    sha = body["sha256"]
    [stored] = cluster.objects()
    assert matches_blob_key(stored, sha, "jpg", prefix="blobs/")
    for replica in (a, b):
        direct = requests.get(f"{replica.url}/{body['id']}.jpg", timeout=30)
        assert direct.status_code == 200
        assert hashlib.sha256(direct.content).hexdigest() == sha
        meta = requests.get(f"{replica.url}/api/images/{body['id']}", timeout=30).json()
        assert meta["sha256"] == sha

    # Through nginx: the first answer fills its cache, the next come from it.
    first = requests.get(body["url"], timeout=30)
    assert hashlib.sha256(first.content).hexdigest() == sha
    assert first.headers["x-cache-status"] == "MISS"
    assert first.headers["etag"] == f'"{sha}"'
    assert first.headers["x-content-type-options"] == "nosniff"
    second = requests.get(body["url"], timeout=30)
    assert second.headers["x-cache-status"] == "HIT" and second.content == first.content

    # A retry that lands on the other replica gets the first answer (the key is in PostgreSQL).
    key = str(uuid.uuid4())
    retried = samples.unique_jpeg(size=(64, 64))
    first_try = cluster.upload(retried, base=a.url, headers={"Idempotency-Key": key})
    second_try = cluster.upload(retried, base=b.url, headers={"Idempotency-Key": key})
    assert (first_try.status_code, second_try.status_code) == (201, 200)
    assert second_try.json() == first_try.json()

    # nginx spreads the requests over both replicas.
    for _ in range(10):
        assert requests.get(f"{cluster.url}/api/images/{body['id']}", timeout=30).ok
    assert cluster.requests_seen(a, f"GET /api/images/{body['id']}") >= 3
    assert cluster.requests_seen(b, f"GET /api/images/{body['id']}") >= 3


def test_a_read_that_meets_a_dead_replica_is_answered_by_the_other(make_cluster):
    """nginx passes a request that failed to connect on to the other replica (the deploy/
    config's proxy_next_upstream): with one replica killed, no reader sees a 502."""
    cluster = make_cluster()
    a, b = cluster.replicas
    body = cluster.upload(samples.unique_jpeg(size=(96, 64))).json()
    a.kill()
    statuses = [
        requests.get(f"{cluster.url}/api/images/{body['id']}", timeout=30).status_code
        for _ in range(12)  # round robin would send half of them to the dead one
    ]
    assert statuses == [200] * 12
    assert cluster.requests_seen(b, f"GET /api/images/{body['id']}") == 12


def test_a_delete_through_one_replica_is_seen_by_the_other(make_cluster):
    cluster = make_cluster()
    a, b = cluster.replicas
    body = cluster.upload(samples.unique_jpeg(size=(200, 150))).json()
    image, thumb = f"/{body['id']}.jpg", f"/t/{body['id']}.webp"
    for path in (image, thumb):  # B has the bytes in its memory cache, nginx in its own
        assert requests.get(b.url + path, timeout=30).status_code == 200
        assert requests.get(cluster.url + path, timeout=30).status_code == 200
    assert len(cluster.objects()) == 2  # image and thumbnail

    gone = requests.delete(
        f"{a.url}/api/images/{body['id']}",
        headers={"Authorization": f"Bearer {body['delete_token']}"},
        timeout=30,
    )
    assert gone.status_code == 204
    for path in (image, thumb, f"/api/images/{body['id']}", f"/{body['id']}"):
        assert requests.get(b.url + path, timeout=30).status_code == 404, path
    assert requests.get(f"{cluster.url}/api/images/{body['id']}", timeout=30).status_code == 404
    assert cluster.objects() == []
    # nginx keeps an image for `proxy_cache_valid` (1 s here, 1 min in deploy/), then asks again.
    time.sleep(2.1)  # nginx counts whole seconds
    for path in (image, thumb):
        r = requests.get(cluster.url + path, timeout=30)
        assert r.status_code == 404, (path, r.headers.get("x-cache-status"))


def test_the_rate_limit_counts_across_both_replicas(make_cluster):
    cluster = make_cluster(
        {
            "PICDROP_UPLOAD_RATE": "5/minute",
            "PICDROP_TRUSTED_PROXIES": "127.0.0.1",
        }
    )
    a, b = cluster.replicas
    statuses = [cluster.upload(samples.unique_jpeg(seed=7000 + i)) for i in range(10)]
    codes = [r.status_code for r in statuses]
    # Each replica alone would allow 5: together they allowed 5, so they share the count.
    assert codes.count(201) == 5, codes
    assert codes.count(429) == 5, codes
    assert all(int(r.headers["retry-after"]) > 0 for r in statuses if r.status_code == 429)
    assert cluster.requests_seen(a, "POST /api/upload") >= 3
    assert cluster.requests_seen(b, "POST /api/upload") >= 3


@dataclass
class Outcome:
    key: str
    data: bytes
    body: dict | None = None
    status: int | None = None
    tries: int = 0
    acknowledged_at: float | None = None


def _upload_with_retries(url: str, outcome: Outcome, deadline: float) -> None:
    """What the desktop client does: the same Idempotency-Key on every try; retry on network
    errors and 5xx, with backoff."""
    while time.monotonic() < deadline:
        outcome.tries += 1
        try:
            r = requests.post(
                f"{url}/api/upload",
                files={"file": ("x.jpg", outcome.data)},
                headers={"Idempotency-Key": outcome.key},
                timeout=30,
            )
        except requests.RequestException:
            r = None
        if r is not None and r.status_code in (200, 201):
            outcome.body, outcome.status = r.json(), r.status_code
            outcome.acknowledged_at = time.monotonic()
            return
        if r is not None and r.status_code < 500:
            outcome.status = r.status_code
            return  # a real refusal: not retried
        time.sleep(random.uniform(0.05, 0.3))


def test_killing_a_replica_mid_load_loses_no_acknowledged_upload(make_cluster):
    cluster = make_cluster()
    a, b = cluster.replicas
    clients, per_client = 4, 10
    images = iter(samples.unique_jpeg(seed=9000 + i, size=(160, 120)) for i in itertools.count())
    lock = threading.Lock()
    outcomes: list[Outcome] = []
    killed_at: list[float] = []
    deadline = time.monotonic() + 120

    def client() -> None:
        for _ in range(per_client):
            with lock:
                outcome = Outcome(str(uuid.uuid4()), next(images))
                outcomes.append(outcome)
            _upload_with_retries(cluster.url, outcome, deadline)

    def acknowledged() -> int:
        with lock:
            return sum(o.body is not None for o in outcomes)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    _wait(lambda: acknowledged() >= 12, 60)
    a.kill()  # SIGKILL, in the middle of whatever it was doing
    killed_at.append(time.monotonic())
    for t in threads:
        t.join(150)
    assert not any(t.is_alive() for t in threads)

    assert all(o.body is not None for o in outcomes), [(o.status, o.tries) for o in outcomes]
    after_kill = [o for o in outcomes if (o.acknowledged_at or 0) > killed_at[0]]
    assert len(after_kill) >= 10  # the survivor carried on
    # Every acknowledged upload is there, whole, served by the surviving replica.
    for o in outcomes:
        r = requests.get(f"{b.url}/{o.body['id']}.jpg", timeout=30)
        assert r.status_code == 200, o.body
        assert hashlib.sha256(r.content).hexdigest() == o.body["sha256"]
        via_nginx = requests.get(o.body["url"], timeout=30)
        assert hashlib.sha256(via_nginx.content).hexdigest() == o.body["sha256"]
    # A retry after a lost answer returned the first upload: no duplicates.
    assert len({o.body["id"] for o in outcomes}) == len(outcomes)
    assert _count_images(b) == len(outcomes)
    # And no row points at a missing blob (orphan blobs from the kill are allowed: the sweep's).
    objects = set(cluster.objects())
    for o in outcomes:
        sha = o.body["sha256"]
        assert any(matches_blob_key(o, sha, "jpg", prefix="blobs/") for o in objects)


def _count_images(replica: ServerProcess) -> int:
    """Rows in the catalog, counted through the replica's settings (its PostgreSQL)."""
    from backend.catalog import Catalog
    from tests.catalog_rows import image_records

    catalog = Catalog(replica.env["PICDROP_DATABASE_URL"])
    try:
        return len(image_records(catalog))
    finally:
        catalog.close()


def _wait(check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
