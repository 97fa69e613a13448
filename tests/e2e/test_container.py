"""The container image's Dockerfile and deploy/compose.yaml, checked without a Docker daemon:
the compose file parses, names only real settings, runs the replicas where the shipped nginx
config expects them, and the image is non-root, health-checked and configured by environment.
Building and running the image needs a Docker daemon, which the test machines do not run."""

from __future__ import annotations

import re

import pytest
import yaml

from backend.settings import FIELDS, env_name
from tests.services import DEPLOY, REPO

COMPOSE = DEPLOY / "compose.yaml"
DOCKERFILE = REPO / "Dockerfile"
SETTINGS = {env_name(f.name) for f in FIELDS}


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
