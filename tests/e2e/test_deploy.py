"""deploy/ exercised for real: the nginx config in front of a replica that lets nginx send the
files (X-Accel-Redirect, the single-machine setup), and the systemd unit's own command line."""

from __future__ import annotations

import configparser
import hashlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.backend import imagesamples as samples
from tests.catalog_rows import matches_blob_key
from tests.conftest import require
from tests.services import (
    DEPLOY,
    Nginx,
    ServerProcess,
    Unavailable,
    free_port,
    render_nginx_site,
)

UNIT = DEPLOY / "systemd" / "picdrop@.service"
MAX_BYTES = 1024 * 1024


def started_nginx(site) -> Nginx:
    """nginx running `site`; skipped (or failed, under PICDROP_REQUIRE_ALL) without nginx."""
    try:
        nginx = Nginx(site)
    except Unavailable as exc:
        require(False, str(exc))
    nginx.start()
    return nginx


@pytest.fixture
def single_machine(tmp_path):
    """One replica on the filesystem store with X-Accel-Redirect, behind deploy/'s nginx."""
    nginx_port = free_port()
    data_dir = tmp_path / "data"
    replica = ServerProcess(
        {
            "PICDROP_DATA_DIR": str(data_dir),
            "PICDROP_PUBLIC_URL": f"http://127.0.0.1:{nginx_port}",
            "PICDROP_X_ACCEL_REDIRECT": "/_picdrop_blobs/",
            "PICDROP_MAX_BYTES": str(MAX_BYTES),
            "PICDROP_SWEEP_INTERVAL": "0",
            "PICDROP_WORKERS": "1",
        },
        tmp_path,
        "replica",
    )
    replica.start().wait()
    try:
        site = render_nginx_site(
            listen_port=nginx_port,
            upstreams=[replica.address],
            cache_dir=tmp_path / "nginx-cache",
            blobs_dir=data_dir / "blobs",
            max_body="1088k",  # PICDROP_MAX_BYTES + 64 KiB of multipart framing
        )
        nginx = started_nginx(site)
        try:
            yield nginx, replica
        finally:
            nginx.stop()
    finally:
        replica.stop()


def test_nginx_sends_the_files_with_the_apps_headers(single_machine):
    nginx, replica = single_machine
    data = samples.unique_jpeg(size=(300, 200))
    r = requests.post(f"{nginx.url}/api/upload", files={"file": ("a.jpg", data)}, timeout=30)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["url"].startswith(nginx.url)
    path = f"/{body['id']}.jpg"

    # The replica itself only answers with the headers and where the file is.
    direct = requests.get(replica.url + path, timeout=30)
    sha = body["sha256"]
    assert matches_blob_key(direct.headers["x-accel-redirect"], sha, "jpg", "/_picdrop_blobs/")
    assert direct.content == b""

    first = requests.get(nginx.url + path, timeout=30)
    assert first.status_code == 200
    assert hashlib.sha256(first.content).hexdigest() == sha
    assert "x-accel-redirect" not in first.headers
    assert first.headers["content-type"] == "image/jpeg"
    assert first.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert first.headers["content-disposition"] == f'inline; filename="{body["id"]}.jpg"'
    assert first.headers["x-content-type-options"] == "nosniff"
    assert first.headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert first.headers["referrer-policy"] == "no-referrer"
    etag = first.headers["etag"]

    # nginx does not cache an X-Accel-Redirect answer: each request asks the app (one catalog
    # read) and nginx sends the file from disk again, so a delete takes effect at once.
    again = requests.get(nginx.url + path, timeout=30)
    assert again.content == first.content
    ranged = requests.get(nginx.url + path, headers={"Range": "bytes=10-19"}, timeout=30)
    assert ranged.status_code == 206 and ranged.content == first.content[10:20]
    cond = requests.get(nginx.url + path, headers={"If-None-Match": etag}, timeout=30)
    assert cond.status_code == 304
    head = requests.head(nginx.url + path, timeout=30)
    assert head.status_code == 200 and head.headers["content-type"] == "image/jpeg"
    assert requests.get(f"{nginx.url}/AAAAAAAAAA.jpg", timeout=30).status_code == 404

    gone = requests.delete(
        f"{nginx.url}/api/images/{body['id']}",
        headers={"Authorization": f"Bearer {body['delete_token']}"},
        timeout=30,
    )
    assert gone.status_code == 204
    assert requests.get(nginx.url + path, timeout=30).status_code == 404


def test_nginx_and_the_app_agree_on_the_upload_limit(single_machine):
    nginx, _replica = single_machine
    # Far over: refused by nginx from the Content-Length, with the same kind of JSON error.
    huge = requests.post(
        f"{nginx.url}/api/upload", files={"file": ("a.jpg", b"\xff" * (2 * MAX_BYTES))}, timeout=30
    )
    assert huge.status_code == 413
    assert huge.json()["code"] == "too_large"
    # Just over PICDROP_MAX_BYTES: within nginx's limit, so the app answers.
    over = requests.post(
        f"{nginx.url}/api/upload", files={"file": ("a.jpg", b"\xff" * (MAX_BYTES + 1))}, timeout=30
    )
    assert over.status_code == 413
    assert over.json()["code"] == "too_large"
    assert "1 MB" in over.json()["error"]


def test_all_replicas_down_is_a_503_to_retry(tmp_path):
    site = render_nginx_site(
        listen_port=free_port(),
        upstreams=[f"127.0.0.1:{free_port()}"],
        cache_dir=tmp_path / "cache",
    )
    nginx = started_nginx(site)
    try:
        r = requests.post(f"{nginx.url}/api/upload", data=b"x", timeout=30)
        assert r.status_code == 503
        assert r.headers["retry-after"] == "5"
        assert r.json()["code"] == "unavailable"
    finally:
        nginx.stop()


def test_links_through_nginx_keep_its_port_without_a_public_url(tmp_path):
    """nginx on a port other than 80, replicas trusting it and no PICDROP_PUBLIC_URL: the ShareX
    uploader and the upload's links name nginx's host and port (X-Forwarded-Host)."""
    replica = ServerProcess(
        {"PICDROP_TRUSTED_PROXIES": "127.0.0.1", "PICDROP_SWEEP_INTERVAL": "0"}, tmp_path
    )
    replica.start().wait()
    try:
        site = render_nginx_site(
            listen_port=free_port(), upstreams=[replica.address], cache_dir=tmp_path / "cache"
        )
        nginx = started_nginx(site)
        try:
            sxcu = requests.get(f"{nginx.url}/api/sharex.sxcu", timeout=30).json()
            assert sxcu["RequestURL"] == f"{nginx.url}/api/upload"
            created = requests.post(
                sxcu["RequestURL"], files={"file": ("a.jpg", samples.plain_jpeg())}, timeout=30
            )
            assert created.json()["url"].startswith(f"{nginx.url}/")
        finally:
            nginx.stop()
    finally:
        replica.stop()


# -- systemd --------------------------------------------------------------------------------------
def _unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # keys are case-sensitive
    parser.read_string(
        re.sub(r"(?m)^(Environment|SystemCallFilter)=", _numbered(), UNIT.read_text())
    )
    return parser


def _numbered():
    counter = iter(range(1000))
    return lambda m: f"{m.group(1)}#{next(counter)}="


def _environment(unit: configparser.ConfigParser) -> dict[str, str]:
    env = {}
    for key, value in unit["Service"].items():
        if key.startswith("Environment#"):
            name, _, val = value.partition("=")
            env[name] = val
    return env


def test_systemd_unit_is_hardened():
    service = _unit()["Service"]
    expected = {
        "User": "picdrop",
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "CapabilityBoundingSet": "",
        "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
        "StateDirectory": "picdrop",
        "Restart": "on-failure",
    }
    assert {k: service.get(k) for k in expected} == expected
    assert service["ExecStart"].endswith("picdrop-server serve")
    env = _environment(_unit())
    assert env["PICDROP_PORT"] == "%i"
    assert env["PICDROP_HOST"] == "127.0.0.1"  # only nginx talks to a replica


def test_systemd_unit_verifies(tmp_path):
    analyze = shutil.which("systemd-analyze")
    require(analyze is not None, "the program 'systemd-analyze' (systemd)")
    server = Path(sys.executable).with_name("picdrop-server")
    assert server.exists()
    text = UNIT.read_text().replace("/opt/picdrop/bin/picdrop-server", str(server))
    unit = tmp_path / "picdrop@8001.service"
    unit.write_text(text)
    result = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    problems = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if "picdrop" in line  # other units on this machine are not ours to judge
    ]
    assert problems == [], "\n".join(problems)


def test_systemd_units_command_serves(tmp_path):
    """What the unit starts, with the unit's environment (port and data dir replaced)."""
    env = _environment(_unit())
    env["PICDROP_PORT"] = "0"
    env["PICDROP_DATA_DIR"] = str(tmp_path / "data")
    exec_start = _unit()["Service"]["ExecStart"].split()
    assert exec_start[0] == "/opt/picdrop/bin/picdrop-server" and exec_start[1:] == ["serve"]
    replica = ServerProcess(env, tmp_path, "unit")
    replica.start().wait()
    try:
        assert requests.get(f"{replica.url}/healthz", timeout=10).json()["status"] == "ok"
    finally:
        replica.stop()
