"""deploy/ exercised for real: the nginx config in front of a replica that lets nginx send the
files (X-Accel-Redirect, the single-machine setup), and the systemd unit's own command line."""

from __future__ import annotations

import configparser
import contextlib
import hashlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from backend.settings import env_name
from tests.backend import imagesamples as samples
from tests.catalog_rows import matches_blob_key
from tests.conftest import GENEROUS_LIMITS, require, require_program
from tests.services import (
    DEPLOY,
    Nginx,
    ServerProcess,
    Unavailable,
    free_port,
    render_nginx_site,
    wait_until,
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


@pytest.mark.parametrize("with_debian_default_site", [True, False])
def test_nginx_refuses_the_site_beside_debians_default_one(tmp_path, with_debian_default_site):
    """The shipped site is the default server for port 80: beside Debian's stock site, which is
    one too, `nginx -t` fails (DEPLOY.md: remove it) instead of one of them silently losing."""
    debian_site = Path("/etc/nginx/sites-available/default")
    program = shutil.which("nginx") or "/usr/sbin/nginx"
    require(Path(program).exists() and debian_site.exists(), "nginx from Debian's package")
    site = (DEPLOY / "nginx" / "picdrop.conf").read_text()
    site = site.replace("/var/cache/nginx/picdrop ", f"{tmp_path / 'cache'} ")
    (tmp_path / "picdrop.conf").write_text(site)
    includes = [tmp_path / "picdrop.conf"] + ([debian_site] if with_debian_default_site else [])
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log;"
        " events {} http { " + " ".join(f"include {path};" for path in includes) + " }\n"
    )
    check = subprocess.run(
        [program, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if with_debian_default_site:
        assert check.returncode != 0 and "duplicate default server" in check.stderr
    else:
        assert check.returncode == 0, check.stderr


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


# -- compression and HSTS -------------------------------------------------------------------------

ASSET = re.compile(r"/static/[a-z]+\.[0-9a-f]{12}\.(?:css|js)")


def test_nginx_sends_css_and_js_gzipped_and_pages_with_secrets_plain(single_machine):
    nginx, _replica = single_machine
    gzip = {"Accept-Encoding": "gzip"}
    home = requests.get(nginx.url + "/", headers=gzip, timeout=30)
    assets = sorted(set(ASSET.findall(home.text)))
    assert {a.rsplit(".", 1)[1] for a in assets} == {"css", "js"}, assets
    for asset in assets:
        plain = requests.get(nginx.url + asset, headers={"Accept-Encoding": "identity"}, timeout=30)
        packed = requests.get(nginx.url + asset, headers=gzip, timeout=30)
        assert packed.headers["content-encoding"] == "gzip", asset
        assert "Accept-Encoding" in packed.headers["vary"]
        assert packed.content == plain.content and "content-encoding" not in plain.headers
    # BREACH: what carries a delete token is never compressed (the upload's answer, the pages of
    # its delete link), so its size tells nothing about the token.
    made = requests.post(
        f"{nginx.url}/api/upload", files={"file": ("a.jpg", samples.unique_jpeg())}, timeout=30
    )
    confirm = requests.get(made.json()["delete_url"], headers=gzip, timeout=30)
    for answer in (made, home, confirm):
        assert answer.status_code in (200, 201) and "content-encoding" not in answer.headers


def test_the_shipped_config_compresses_text_assets_only():
    site = (DEPLOY / "nginx" / "picdrop.conf").read_text()
    static = re.search(r"^    location /static/ \{\n(.*?)^    \}", site, flags=re.M | re.S)
    assert static, "no location /static/"
    rules = static.group(1)
    assert re.search(r"^\s*gzip on;", rules, flags=re.M)
    assert re.search(r"^\s*gzip_vary on;", rules, flags=re.M)
    types = re.search(r"gzip_types ([^;]*);", rules).group(1).split()
    assert {"text/css", "text/javascript", "application/javascript"} <= set(types)
    everywhere_else = site.replace(static.group(0), "")
    assert not re.search(r"^\s*gzip on;", everywhere_else, flags=re.M)  # HTML stays plain


def with_tls_listener(site: str, tmp_path: Path) -> tuple[str, int, Path]:
    """The site with a TLS listener beside its plain one (a self-signed certificate for
    127.0.0.1), as an operator adds it by the config's CHANGE comment."""
    openssl = require_program("openssl")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *(openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    port = free_port()
    listen = re.search(r"^    listen 127\.0\.0\.1:\d+;\n", site, flags=re.M).group(0)
    tls = (
        f"    listen 127.0.0.1:{port} ssl;\n"
        f"    ssl_certificate {cert};\n    ssl_certificate_key {key};\n"
    )
    return site.replace(listen, listen + tls), port, cert


def test_hsts_on_every_https_answer_and_none_over_http(tmp_path):
    replica = ServerProcess({"PICDROP_SWEEP_INTERVAL": "0"}, tmp_path, "replica")
    replica.start().wait()
    site = render_nginx_site(
        listen_port=free_port(), upstreams=[replica.address], cache_dir=tmp_path / "cache"
    )
    site, tls_port, cert = with_tls_listener(site, tmp_path)
    nginx = started_nginx(site)
    https = f"https://127.0.0.1:{tls_port}"
    try:
        made = requests.post(
            f"{https}/api/upload",
            files={"file": ("a.jpg", samples.unique_jpeg())},
            verify=str(cert),
            timeout=30,
        ).json()
        home = requests.get(https + "/", verify=str(cert), timeout=30)
        asset = ASSET.search(home.text).group(0)
        # A page, an asset, an image (nginx's cache location), a 404.
        paths = ["/", asset, f"/{made['id']}.jpg", "/AAAAAAAAAA.jpg"]
        for path in paths:
            answer = requests.get(https + path, verify=str(cert), timeout=30)
            assert answer.headers.get("strict-transport-security") == "max-age=31536000", path
            plain = requests.get(nginx.url + path, timeout=30)
            assert "strict-transport-security" not in plain.headers, path
        replica.stop()  # nginx's own error page (no replica answers) carries it too
        down = requests.get(https + "/", verify=str(cert), timeout=30)
        assert down.status_code == 503
        assert down.headers.get("strict-transport-security") == "max-age=31536000"
    finally:
        nginx.stop()
        replica.stop()


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


@contextlib.contextmanager
def replica_behind_nginx(tmp_path: Path, **site_options) -> Iterator[tuple[Nginx, ServerProcess]]:
    """One replica that sends the bytes itself (as S3-backed replicas do), so nginx caches."""
    env = {"PICDROP_SWEEP_INTERVAL": "0", "PICDROP_WORKERS": "1"}
    env.update({env_name(k): str(v) for k, v in GENEROUS_LIMITS.items()})
    replica = ServerProcess(env, tmp_path, "replica")
    replica.start().wait()
    try:
        site_options.setdefault("cache_dir", tmp_path / "nginx-cache")
        site = render_nginx_site(
            listen_port=free_port(), upstreams=[replica.address], **site_options
        )
        nginx = started_nginx(site)
        try:
            yield nginx, replica
        finally:
            nginx.stop()
    finally:
        replica.stop()


def upload_direct(replica: ServerProcess, data: bytes) -> dict:
    r = requests.post(f"{replica.url}/api/upload", files={"file": ("a.jpg", data)}, timeout=30)
    assert r.status_code == 201, r.text
    return r.json()


def test_a_cached_image_is_served_while_no_replica_answers(tmp_path):
    with replica_behind_nginx(tmp_path, cache_valid="1s") as (nginx, replica):
        image = upload_direct(replica, samples.unique_jpeg(size=(120, 90)))
        url = f"{nginx.url}/{image['id']}.jpg"
        assert requests.get(url, timeout=30).headers["x-cache-status"] == "MISS"
        replica.stop()
        # Past proxy_cache_valid nginx asks again, finds no replica, and keeps the copy it has.
        wait_until(
            lambda: requests.get(url, timeout=30).headers["x-cache-status"] == "STALE",
            30,
            "a stale answer",
        )
        stale = requests.get(url, timeout=30)
        assert stale.status_code == 200
        assert hashlib.sha256(stale.content).hexdigest() == image["sha256"]


def test_nginx_own_failure_answers_in_the_json_shape(tmp_path):
    """An upload bigger than client_body_buffer_size goes to nginx's temp dir; when nginx
    cannot write there (full, gone), its 500 has the API's error shape, not an HTML page."""
    with replica_behind_nginx(tmp_path) as (nginx, _replica):
        body_temp = nginx.dir / "client_body"
        shutil.rmtree(body_temp)
        body_temp.write_text("not a directory: nginx cannot spool request bodies here")
        data = samples.unique_jpeg(size=(64, 64)) + b"\0" * (2 * 1024 * 1024)
        r = requests.post(f"{nginx.url}/api/upload", files={"file": ("a.jpg", data)}, timeout=30)
        assert r.status_code == 500
        assert r.headers["content-type"] == "application/json"
        assert r.json()["code"] == "internal_error"
        assert int(r.headers["retry-after"]) > 0


@contextlib.contextmanager
def small_filesystem(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` mounted on `path` (root only): a disk that really fills up."""
    path.mkdir()
    mounted = (
        os.geteuid() == 0
        and subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)],
            capture_output=True,
        ).returncode
        == 0
    )
    require(mounted, "mounting a tmpfs (root, CAP_SYS_ADMIN) for a disk that fills up")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)


def test_a_full_cache_disk_leaves_uncached_views_working(tmp_path):
    """nginx writes every cacheable answer to the cache disk on its way to the client; a full
    disk would cut those answers off. min_free makes the cache manager keep room: here a 2 MiB
    disk, 1 MiB kept free, and more images viewed than the disk holds."""
    image_count, free_needed = 48, 256 * 1024
    with (
        small_filesystem(tmp_path / "cache", "2m") as cache,
        replica_behind_nginx(tmp_path, cache_dir=cache, min_free="1m") as (nginx, replica),
    ):
        images = [
            upload_direct(replica, samples.encode(samples.photo((500, 375), seed=i), quality=90))
            for i in range(image_count)
        ]
        assert sum(i["size"] for i in images) > 2 * 1024 * 1024  # more than the disk holds
        for image in images:
            # The manager runs every few seconds: wait for room as a steady stream would.
            wait_until(
                lambda: shutil.disk_usage(cache).free >= free_needed, 30, "room in the cache"
            )
            r = requests.get(f"{nginx.url}/{image['id']}.jpg", timeout=30)
            assert r.status_code == 200
            assert hashlib.sha256(r.content).hexdigest() == image["sha256"]


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
