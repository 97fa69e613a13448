"""The container image for real, and deploy/compose.yaml. The image is built from the Dockerfile on
a base made here (debootstrap from the Debian mirror apt already uses, then `docker import`; kept
in Docker's image store, so only the first run pays for it) and a wheelhouse made beforehand by
the base's own Python, so the build itself has no network; it then runs with `--network host`
against the PostgreSQL, Redis and S3 servers the scale-out tests start. The compose file is
checked statically: Debian's docker.io has no `docker compose`."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml

from backend.settings import FIELDS, env_name
from tests.backend import imagesamples as samples
from tests.conftest import GENEROUS_LIMITS, require, require_program
from tests.services import DEPLOY, REPO, free_port, wait_until

COMPOSE = DEPLOY / "compose.yaml"
DOCKERFILE = REPO / "Dockerfile"
SETTINGS = {env_name(f.name) for f in FIELDS}
BASE_IMAGE = "local/debian-python:bookworm"
SERVER_EXTRAS = "scale,metrics"
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def _replicas(compose: dict) -> dict[str, dict]:
    return {n: s for n, s in compose["services"].items() if n.startswith("picdrop")}


def test_compose_runs_the_replicas_where_the_shipped_nginx_config_expects_them(compose):
    nginx = compose["services"]["nginx"]
    assert "./nginx/picdrop.conf:/etc/nginx/conf.d/default.conf:ro" in nginx["volumes"]
    upstreams = re.findall(
        r"^\s*server 127\.0\.0\.1:(\d+)", (DEPLOY / "nginx/picdrop.conf").read_text(), re.M
    )
    replicas = _replicas(compose)
    assert sorted(r["environment"]["PICDROP_PORT"] for r in replicas.values()) == upstreams
    for replica in replicas.values():
        assert replica["network_mode"] == "service:nginx"  # nginx's 127.0.0.1 is theirs
        assert replica["environment"]["PICDROP_TRUSTED_PROXIES"] == "127.0.0.1"
        assert (DEPLOY / replica["build"]["context"] / replica["build"]["dockerfile"]).is_file()


@pytest.mark.parametrize(
    ("setting", "service"),
    [
        ("PICDROP_DATABASE_URL", "db"),
        ("PICDROP_RATELIMIT_URL", "redis"),
        ("PICDROP_S3_ENDPOINT_URL", "s3"),
    ],
)
def test_compose_points_each_replica_at_its_services(compose, setting, service):
    assert service in compose["services"]
    for replica in _replicas(compose).values():
        assert re.search(rf"[/@]{service}[:/]", replica["environment"][setting])


def test_compose_names_only_real_settings_and_requires_an_admin_token(compose):
    for replica in _replicas(compose).values():
        names = {k for k in replica["environment"] if k.startswith("PICDROP_")}
        assert names <= SETTINGS, names - SETTINGS
        assert ":?" in replica["environment"]["PICDROP_ADMIN_TOKEN"]  # no default token


@pytest.mark.parametrize(
    "pattern",
    [
        r"^ARG BASE=python:3\.\d+-slim$",  # the base image is a build argument
        r"^FROM \$\{BASE\}$",
        r"^USER picdrop$",  # not root
        r"useradd --system --uid 10001",
        r"^VOLUME /data$",
        r"PICDROP_DATA_DIR=/data",
        r"^HEALTHCHECK .*\n?.*/healthz",
        r"pip install --quiet -c constraints\.txt \$what",  # pinned, server extras, no desktop
        r"--no-index --find-links wheelhouse picdrop\[scale,metrics\]",
        r'^CMD \["picdrop-server", "serve"\]$',
    ],
)
def test_dockerfile(pattern):
    assert re.search(pattern, DOCKERFILE.read_text(), re.M), pattern


def test_dockerignore_sends_only_what_the_image_installs():
    kept = {
        line[1:].rstrip("/")
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    assert kept == {
        "pyproject.toml",
        "README.md",
        "constraints.txt",
        "backend",
        "desktop",
        "wheelhouse",
    }


# --- the image, built and run ------------------------------------------------------------------
def _run(argv: list[str], timeout: float = 600, **kw) -> subprocess.CompletedProcess:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)
    assert done.returncode == 0, f"{argv[:3]} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
    return done


def _docker(*args: str, timeout: float = 600, **kw) -> subprocess.CompletedProcess:
    return _run(["docker", *args], timeout=timeout, **kw)


def _debian_mirror() -> str:
    """The Debian archive apt on this machine already uses (never a hard-coded host)."""
    targets = subprocess.run(
        ["apt-get", "indextargets", "--format", "$(RELEASE) $(REPO_URI)"],
        check=True, capture_output=True, text=True,
    ).stdout.split("\n")  # fmt: skip
    mirrors = [t.split()[1] for t in targets if t.startswith("bookworm ")]
    require(bool(mirrors), "an apt source for Debian bookworm (the base image's packages)")
    return mirrors[0]


@pytest.fixture(scope="module")
def docker() -> None:
    require_program("docker")
    alive = subprocess.run(["docker", "info"], capture_output=True, timeout=60).returncode == 0
    require(alive, "a running Docker daemon")


@pytest.fixture(scope="module")
def base_image(docker, tmp_path_factory) -> str:
    """Debian with Python, made locally (no image registry is reachable); Docker keeps it."""
    if subprocess.run(["docker", "image", "inspect", BASE_IMAGE], capture_output=True).returncode:
        debootstrap = require_program("debootstrap")
        rootfs = tmp_path_factory.mktemp("rootfs")
        _run(
            [debootstrap, "--variant=minbase", "--include=python3,python3-venv", "bookworm",
             str(rootfs), _debian_mirror()],
            timeout=900,
        )  # fmt: skip
        with subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE) as tar:
            _docker("import", "-", BASE_IMAGE, stdin=tar.stdout)
        assert tar.returncode == 0
        shutil.rmtree(rootfs, ignore_errors=True)
    return BASE_IMAGE


def _wheelhouse(base_image: str, context: Path) -> None:
    """Wheels for the server extras, made by the base image's own Python so that environment
    markers match it (bookworm's 3.11.2 needs async-timeout, a newer host Python does not):
    a throwaway container on the host's network with the host's CA bundle, pip's cache in a
    Docker volume that outlives the test run."""
    require(CA_BUNDLE.is_file(), f"the host's CA bundle ({CA_BUNDLE}) for pip in a container")
    _docker(
        "run", "--rm", "--network", "host",
        "--volume", f"{CA_BUNDLE}:{CA_BUNDLE}:ro", "--env", f"PIP_CERT={CA_BUNDLE}",
        "--volume", f"{context}:/src", "--volume", "picdrop-test-pip-cache:/root/.cache/pip",
        base_image, "sh", "-c",
        "python3 -m venv /tmp/venv && /tmp/venv/bin/pip wheel --quiet"
        f" -c /src/constraints.txt -w /src/wheelhouse '/src[{SERVER_EXTRAS}]'",
        timeout=900,
    )  # fmt: skip


@pytest.fixture(scope="module")
def image(base_image, tmp_path_factory) -> Iterator[str]:
    """The Dockerfile built on `base_image`, its context holding a wheelhouse: the build itself
    has no network."""
    context = tmp_path_factory.mktemp("context")
    for name in ("Dockerfile", ".dockerignore", "pyproject.toml", "README.md", "constraints.txt"):
        shutil.copy(REPO / name, context / name)
    for package in ("backend", "desktop"):
        shutil.copytree(
            REPO / package, context / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    _wheelhouse(base_image, context)
    tag = f"picdrop-test:{uuid.uuid4().hex[:12]}"
    _docker("build", "--quiet", "--network", "none", "--build-arg", f"BASE={base_image}",
            "-t", tag, str(context), timeout=900)  # fmt: skip
    yield tag
    subprocess.run(["docker", "image", "rm", "--force", tag], capture_output=True)


@pytest.fixture
def container(image, pg_url, s3_server, s3_bucket, redis_server) -> Iterator[tuple[str, str]]:
    """The image running against the test services; yields (container id, base URL)."""
    port = free_port()
    env = {
        "PICDROP_HOST": "127.0.0.1",
        "PICDROP_PORT": str(port),
        "PICDROP_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "PICDROP_DATABASE_URL": pg_url,
        "PICDROP_STORAGE_URL": f"s3://{s3_bucket}/blobs",
        **s3_server.env(),
        "PICDROP_RATELIMIT_URL": redis_server.url,
        **{env_name(k): v for k, v in GENEROUS_LIMITS.items()},
    }
    cid = _docker(
        "run", "--detach", "--network", "host",
        # The image's own health check, asked every second instead of every 30 s.
        "--health-interval", "1s", "--health-start-period", "60s",
        *[a for k, v in env.items() for a in ("--env", f"{k}={v}")], image,
    ).stdout.strip()  # fmt: skip
    try:
        yield cid, f"http://127.0.0.1:{port}"
    finally:
        subprocess.run(["docker", "rm", "--force", cid], capture_output=True)


def _state(cid: str) -> dict:
    return json.loads(_docker("inspect", "--format", "{{json .State}}", cid).stdout)


def _logs(cid: str) -> str:
    done = subprocess.run(["docker", "logs", cid], capture_output=True, text=True)
    return (done.stdout + done.stderr)[-3000:]


# The first run also makes the base image (debootstrap, about two minutes).
@pytest.mark.container
@pytest.mark.timeout(1200)
def test_the_image_runs_unprivileged_reports_healthy_and_serves(container):
    cid, url = container

    def healthy() -> bool:
        state = _state(cid)
        assert state["Running"], _logs(cid)
        return state["Health"]["Status"] == "healthy"

    wait_until(healthy, 120, "the container's HEALTHCHECK")
    uid = re.search(r"^Uid:\s+(\d+)", Path(f"/proc/{_state(cid)['Pid']}/status").read_text(), re.M)
    assert uid is not None and int(uid[1]) == 10001  # the server process, seen from the host

    data = samples.unique_jpeg(size=(200, 150))
    uploaded = requests.post(f"{url}/api/upload", files={"file": ("x.jpg", data)}, timeout=60)
    assert uploaded.status_code == 201, uploaded.text
    body = uploaded.json()
    assert requests.get(f"{url}/{body['id']}.jpg", timeout=30).content == data
    gone = requests.delete(
        f"{url}/api/images/{body['id']}",
        headers={"Authorization": f"Bearer {body['delete_token']}"},
        timeout=30,
    )
    assert gone.status_code == 204
    assert requests.get(f"{url}/{body['id']}.jpg", timeout=30).status_code == 404
