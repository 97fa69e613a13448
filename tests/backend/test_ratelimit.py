"""Abuse limits without identities: who a client is (peer or trusted proxy), the salted daily key,
and the limits on uploads, reports and 404s through the real server, in memory and in Redis."""

from __future__ import annotations

import ipaddress
import re
import secrets
import socket
import subprocess
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from requests_toolbelt.adapters.source import SourceAddressAdapter

from backend.abuse.addresses import client_address, network_prefix, parse_networks
from backend.abuse.ratelimit import DerivedSalts, RateLimits, parse_rate
from backend.abuse.secret import server_secret
from backend.server import EmbeddedServer
from backend.settings import Settings
from tests.backend import imagesamples as samples
from tests.conftest import require_program

ip = ipaddress.ip_address


# -- who is the client ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "expected"),
    [
        # No trusted proxies: the header is ignored, whatever it says.
        ("203.0.113.9", ["198.51.100.1"], "", "203.0.113.9"),
        # The peer is a trusted proxy: the rightmost address that is not a trusted proxy.
        ("127.0.0.1", ["198.51.100.1"], "127.0.0.1", "198.51.100.1"),
        ("127.0.0.1", ["6.6.6.6, 198.51.100.1"], "127.0.0.1", "198.51.100.1"),
        ("127.0.0.1", ["198.51.100.1, 10.1.2.3"], "127.0.0.1, 10.0.0.0/8", "198.51.100.1"),
        ("127.0.0.1", ["6.6.6.6", "198.51.100.1"], "127.0.0.1", "198.51.100.1"),
        # A peer that is not trusted cannot forward anything.
        ("203.0.113.9", ["198.51.100.1"], "127.0.0.1", "203.0.113.9"),
        # Garbage in the chain: stop at the last address that could be trusted.
        ("127.0.0.1", ["198.51.100.1, garbage"], "127.0.0.1", "127.0.0.1"),
        ("127.0.0.1", [], "127.0.0.1", "127.0.0.1"),
        # Ports, brackets, IPv4-mapped IPv6.
        ("127.0.0.1", ["198.51.100.1:4711"], "127.0.0.1", "198.51.100.1"),
        ("127.0.0.1", ["[2001:db8::1]:443"], "127.0.0.1", "2001:db8::1"),
        ("::ffff:203.0.113.9", [], "", "203.0.113.9"),
        (None, ["198.51.100.1"], "127.0.0.1", None),
    ],
)
def test_client_address(peer, forwarded, trusted, expected):
    found = client_address(peer, forwarded, parse_networks(trusted))
    assert found == (ip(expected) if expected else None)


def test_ipv6_clients_are_keyed_per_64():
    a = network_prefix(ip("2001:db8:1:2:aaaa::1"))
    b = network_prefix(ip("2001:db8:1:2:ffff:ffff:ffff:ffff"))
    c = network_prefix(ip("2001:db8:1:3::1"))
    assert a == b != c
    assert network_prefix(ip("192.0.2.1")) != network_prefix(ip("192.0.2.2"))


def test_trusted_proxies_setting_is_checked():
    with pytest.raises(ValueError, match="PICDROP_TRUSTED_PROXIES"):
        Settings(trusted_proxies="10.0.0.0/8, nonsense")
    with pytest.raises(ValueError, match="PICDROP_UPLOAD_RATE"):
        Settings(upload_rate="lots")
    assert parse_rate("") == () and parse_rate("off") == ()
    assert len(parse_rate("30/minute;500/day")) == 2


# -- the daily key --------------------------------------------------------------------------------
class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def limits(clock=time.time, url="memory://", **rates) -> RateLimits:
    return RateLimits(
        url=url,
        upload=rates.get("upload", "5/minute"),
        report=rates.get("report", "5/minute"),
        notfound=rates.get("notfound", "5/minute"),
        secret=lambda: b"s" * 32,
        clock=clock,
    )


def test_keys_are_keyed_hashes_that_rotate_daily():
    clock = Clock(1_800_000_000.0)
    rl = limits(clock)
    address = ip("198.51.100.7")
    today = rl.client_key(address)
    # 128 bits of hex; the address is not in it (a random salt makes "198" appear by chance).
    assert re.fullmatch("[0-9a-f]{32}", today)
    assert rl.client_key(address) == today
    assert rl.client_key(ip("198.51.100.8")) != today
    first_salt = rl.salts.current()
    clock.now += 86400
    assert rl.client_key(address) != today
    # The old salt is gone: nothing in the limiter can recompute yesterday's key.
    assert rl.salts.current() != first_salt
    assert first_salt not in vars(rl.salts).values()
    # Another process (another memory storage) has its own salt: keys mean nothing elsewhere.
    assert limits(clock).client_key(address) != rl.client_key(address)
    rl.close()


def test_derived_salts_agree_across_processes_and_change_daily():
    clock = Clock(1_800_000_000.0)
    a, b = DerivedSalts(lambda: b"k" * 32, clock), DerivedSalts(lambda: b"k" * 32, clock)
    assert a.current() == b.current()
    before = a.current()
    clock.now += 86400
    assert a.current() != before
    assert DerivedSalts(lambda: b"other", clock).current() != a.current()


def test_server_secret_is_created_once_and_private(tmp_path):
    settings = Settings(data_dir=tmp_path)
    first = server_secret(settings)
    assert len(first) == 32 and server_secret(settings) == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    assert server_secret(Settings(data_dir=tmp_path, secret_key="configured")) == b"configured"


def test_hits_tests_and_retry_after():
    rl = limits(upload="2/minute")
    assert rl.hit(rl.upload, "upload", "k").allowed
    assert rl.hit(rl.upload, "upload", "k").allowed
    verdict = rl.hit(rl.upload, "upload", "k")
    assert not verdict.allowed and 1 <= verdict.retry_after <= 60
    assert rl.hit(rl.upload, "upload", "other").allowed
    rl.close()


# -- through the server ---------------------------------------------------------------------------
def session_from(source: str) -> requests.Session:
    """A client with its own address on the loopback network (127.0.0.0/8 is all ours)."""
    s = requests.Session()
    adapter = SourceAddressAdapter(source)
    s.mount("http://", adapter)
    return s


@pytest.mark.parametrize("settings_overrides", [{"upload_rate": "3/minute"}])
def test_uploads_are_limited_per_client(client):
    for _ in range(3):
        assert client.upload(samples.unique_jpeg()).status_code == 201
    r = client.upload(samples.unique_jpeg())
    assert r.status_code == 429
    assert r.json()["code"] == "rate_limited" and "try again" in r.json()["error"]
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    # The curl endpoint says it in plain text, with the same header.
    curl = client.session.post(client.url + "/", files={"file": ("a.jpg", samples.unique_jpeg())})
    assert curl.status_code == 429 and curl.text.startswith("error: Too many uploads")
    assert "Retry-After" in curl.headers
    # X-Forwarded-For is not believed from a peer that is not a trusted proxy.
    spoofed = client.upload(samples.unique_jpeg(), headers={"X-Forwarded-For": "198.51.100.3"})
    assert spoofed.status_code == 429
    # Another client is not affected.
    with session_from("127.0.0.2") as other:
        r = other.post(f"{client.url}/api/upload", files={"file": ("a.jpg", samples.unique_jpeg())})
        assert r.status_code == 201
    assert len(client.rows()) == 4


def test_a_refused_upload_is_refused_before_its_body_is_read(client):
    """With the limit used up, a huge upload gets 429 at once, not after the transfer."""
    rl: RateLimits = client.server.app.state.guard.limits
    rl.upload = parse_rate("1/minute")
    assert client.upload(samples.unique_jpeg()).status_code == 201
    with socket.create_connection(client.address(), timeout=10) as sock:
        sock.sendall(
            b"POST /api/upload HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
            b"Content-Length: 20000000\r\n\r\n\xff\xd8\xff"
        )
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 429 ")


@pytest.mark.parametrize(
    "settings_overrides", [{"upload_rate": "2/minute", "trusted_proxies": "127.0.0.1"}]
)
def test_trusted_proxy_forwards_client_addresses(client):
    def send(forwarded: str) -> int:
        return client.upload(
            samples.unique_jpeg(), headers={"X-Forwarded-For": forwarded}
        ).status_code

    assert [send("198.51.100.1") for _ in range(3)] == [201, 201, 429]
    assert [send("198.51.100.2") for _ in range(3)] == [201, 201, 429]
    # A client writing its own X-Forwarded-For in front gains nothing: the proxy's entry counts.
    assert send("203.0.113.50, 198.51.100.1") == 429
    # IPv6 clients share their /64.
    assert send("2001:db8:5:6::1") == 201
    assert send("2001:db8:5:6::2") == 201
    assert send("2001:db8:5:6:ffff::3") == 429


@pytest.mark.parametrize("settings_overrides", [{"notfound_rate": "1000/hour"}])
def test_guessing_ids_1000_404s_then_429(client):
    existing = client.upload(samples.unique_jpeg()).json()
    statuses = []
    for _ in range(1000):
        guess = "".join(
            secrets.choice("abcdefghijkmnopqrstuvwxyzABCDEFGH0123456789") for _ in range(10)
        )
        statuses.append(client.get(f"/{guess}.jpg").status_code)
    assert statuses == [404] * 1000
    r = client.get("/AAAAAAAAAA.jpg")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    # Over the limit, existing IDs answer 429 too: no oracle for which guesses were right.
    assert client.get(f"/{existing['id']}.jpg").status_code == 429
    assert client.get(f"/api/images/{existing['id']}").status_code == 429
    # Uploads and other clients carry on.
    assert client.upload(samples.unique_jpeg()).status_code == 201
    with session_from("127.0.0.3") as other:
        assert other.get(f"{client.url}/{existing['id']}.jpg").status_code == 200


# -- Redis: shared by every replica ---------------------------------------------------------------
@pytest.fixture
def redis_url(tmp_path: Path):
    program = require_program("redis-server")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            program,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as c:
                c.sendall(b"PING\r\n")
                if c.recv(16).startswith(b"+PONG"):
                    break
        except OSError:
            time.sleep(0.05)
    try:
        yield f"redis://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def test_redis_limits_are_shared_by_replicas_across_a_redis_that_lost_its_data(redis_url, tmp_path):
    """Replica b starts after Redis lost its data (a restart without persistence): it still keys
    clients like replica a, which keyed them before, since the day's salt comes from the shared
    server secret and the date, not from Redis."""
    import redis

    conn = redis.Redis.from_url(redis_url)

    def replica(name: str) -> EmbeddedServer:
        settings = Settings(
            data_dir=tmp_path / name,  # separate data dirs: nothing shared but Redis and the secret
            host="127.0.0.1",
            port=0,
            sweep_interval=0,
            ratelimit_url=redis_url,
            upload_rate="4/minute",
            secret_key="the-secret-every-replica-of-this-cluster-shares",
        )
        server = EmbeddedServer(settings)
        server.start()
        return server

    servers = [replica("a")]
    try:
        with requests.Session() as s:

            def send(server: EmbeddedServer) -> int:
                files = {"file": ("a.jpg", samples.unique_jpeg())}
                return s.post(f"{server.url}/api/upload", files=files).status_code

            assert send(servers[0]) == 201  # replica a has keyed this client
            conn.flushall()
            servers.append(replica("b"))
            results = [send(servers[i % 2]) for i in range(5)]
        assert results == [201, 201, 201, 201, 429]
        keys = [k.decode() for k in conn.keys("*")]
        assert not [k for k in keys if "salt" in k]  # Redis holds no salt
        # Redis holds keyed hashes only, never the address.
        dump = " ".join(keys) + " ".join(str(conn.dump(k)) for k in keys)
        assert "127.0.0.1" not in dump and "2130706433" not in dump
    finally:
        for server in servers:
            server.stop()


RIGHT_TOKEN = "right-token-0123456789abcdef0123456789"


@pytest.mark.parametrize(
    "settings_overrides", [{"notfound_rate": "3/minute", "admin_token": RIGHT_TOKEN}]
)
def test_refused_admin_tokens_count_as_guesses(client):
    wrong = {"Authorization": "Bearer guess"}
    statuses = [client.get("/api/admin/reports", headers=wrong).status_code for _ in range(4)]
    assert statuses == [403, 403, 403, 429]
    right = {"Authorization": f"Bearer {RIGHT_TOKEN}"}
    assert client.get("/api/admin/reports", headers=right).status_code == 429  # even the right one


@pytest.mark.parametrize("settings_overrides", [{"notfound_rate": "100/minute"}])
def test_simultaneous_guesses_cannot_outrun_the_not_found_limit(client):
    """600 guesses in flight at once from one client: each 404 is counted by the same atomic
    step that checks the limit, so at most 100 are answered 404 and the rest 429."""
    guesses = [f"/{secrets.token_hex(5)}.jpg" for _ in range(600)]
    start = threading.Barrier(60)

    def guess_all(paths: list[str]) -> list[requests.Response]:
        with requests.Session() as session:
            start.wait()
            return [session.get(client.url + path, timeout=60) for path in paths]

    with ThreadPoolExecutor(60) as pool:
        answers = [
            r for batch in pool.map(guess_all, [guesses[i::60] for i in range(60)]) for r in batch
        ]
    statuses = Counter(r.status_code for r in answers)
    assert set(statuses) <= {404, 429}, statuses
    assert 0 < statuses[404] <= 100, statuses
    assert all(int(r.headers["Retry-After"]) >= 1 for r in answers if r.status_code == 429)
    assert all(r.json()["code"] == "rate_limited" for r in answers if r.status_code == 429)
