"""Decompression and CPU bombs against a real server: each is refused (422) or bounded (its
decoded pixels charged to the memory budget, stopped at its deadline or when its client hangs
up, its thumbnail made once), and health checks and normal uploads go on meanwhile."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import pytest
import requests

from backend import service as service_module
from backend.images import Processed
from backend.server import EmbeddedServer
from backend.settings import Settings
from tests.backend import bombs
from tests.backend import imagesamples as samples
from tests.services import wait_until

MB = 1024 * 1024


class Gate:
    """Holds image work in a processing slot (as a decode that takes long would) until opened."""

    def __init__(self) -> None:
        self.opened = threading.Event()
        self.waiting = 0
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            self.waiting += 1
        assert self.opened.wait(60), "the test never opened the gate"


@pytest.fixture
def start_server(server_settings: Settings) -> Iterator[Callable[..., EmbeddedServer]]:
    """Factory: a live server with these settings changed and these upload checks."""
    servers: list[EmbeddedServer] = []

    def start(checks=(), **settings) -> EmbeddedServer:
        server = EmbeddedServer(replace(server_settings, **settings), checks=list(checks))
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def upload(url: str, data: bytes, name: str = "bomb.bin") -> requests.Response:
    return requests.post(f"{url}/api/upload", files={"file": (name, data)}, timeout=120)


# Each bomb at the largest size a default server accepts by its header limits (50 million
# pixels): a few hundred bytes that decode to hundreds of megabytes.
AREA_BOMBS = {
    "RGBA PNG, 190 KB": lambda: bombs.area_png(),
    "GIF logical screen, 37 bytes": lambda: bombs.screen_gif(),
    "WebP canvas, 92 bytes": lambda: bombs.canvas_webp(),
    "progressive JPEG": lambda: bombs.scan_jpeg(side=bombs.SIDE, copies=1),
}


@pytest.mark.parametrize("build", AREA_BOMBS.values(), ids=AREA_BOMBS.keys())
def test_an_image_that_needs_more_memory_than_the_budget_is_refused(client, build):
    response = client.upload(build())
    # too_many_pixels here; a structural limit checked earlier may refuse it first.
    assert response.status_code == 422, response.text
    assert response.json()["code"]
    assert client.rows() == []


# Smaller bombs that fit the budget: (builder, the bytes a pixel takes once decoded, at least).
CHARGED = {
    "RGBA PNG": (lambda: bombs.area_png(2000), 4),
    "GIF logical screen": (lambda: bombs.screen_gif(3000), 1),
    "WebP canvas": (lambda: bombs.canvas_webp(1500), 4),
    "GIF of 400 frames": (lambda: bombs.frames_gif(400, 1000), 4),
    "progressive JPEG": (lambda: bombs.scan_jpeg(side=2048, copies=1), 2),
}


@pytest.mark.parametrize("build,bytes_per_pixel", CHARGED.values(), ids=CHARGED.keys())
def test_decoded_pixels_are_charged_to_the_budget_before_decoding(
    start_server, build, bytes_per_pixel
):
    charged: list[int] = []

    def record(processed: Processed) -> None:  # runs after the decode, while it is charged
        charged.append(server.app.state.upload_budget.used)

    server = start_server(checks=[record])
    data = build()
    response = upload(server.url, data)
    if response.status_code == 422:  # refused by a structural limit: bounded too
        return
    assert response.status_code == 201, response.text
    meta = response.json()
    assert charged and charged[0] >= meta["width"] * meta["height"] * bytes_per_pixel
    assert server.app.state.upload_budget.used == 0  # and given back


def test_a_decode_that_runs_past_its_deadline_is_refused(start_server):
    server = start_server(decode_timeout=1)
    response = upload(server.url, bombs.scan_jpeg(side=2048, copies=3000))
    # too_slow here; a structural limit on scans may refuse it before it is decoded.
    assert response.status_code == 422, response.text
    assert response.json()["code"]
    assert server.app.state.upload_budget.used == 0


def _raw_upload(url: str, data: bytes) -> socket.socket:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    sock = socket.create_connection((host, int(port)))
    head = (
        f"PUT /api/upload/bomb.jpg HTTP/1.1\r\nHost: {host}\r\nContent-Type: image/jpeg\r\n"
        f"Content-Length: {len(data)}\r\n\r\n"
    )
    sock.sendall(head.encode() + data)
    return sock


def test_the_work_stops_when_the_client_hangs_up(start_server):
    server = start_server(decode_timeout=600)
    state = server.app.state
    sock = _raw_upload(server.url, bombs.scan_jpeg(side=2048, copies=20000))
    sock.settimeout(0.05)

    def decoding_or_answered() -> bool:
        if state.cpu_limiter.borrowed_tokens > 0:
            return True
        try:
            return sock.recv(1) != b""  # answered already (refused by a structural limit)
        except TimeoutError:
            return False

    wait_until(decoding_or_answered, 60, "the bomb's decode")
    sock.close()
    # Minutes of decoding left when the client went: the slot is given back long before.
    wait_until(lambda: state.cpu_limiter.borrowed_tokens == 0, 60, "the slot to be given back")
    assert state.upload_budget.used == 0
    assert server.app.state.service.catalog.referenced_blob_keys() == set()


@dataclass
class GatedThumbnails:
    """make_thumbnail waits at `gate`; each call records (budget used, slots taken) then."""

    gate: Gate = field(default_factory=Gate)
    calls: list[tuple[int, int]] = field(default_factory=list)
    server: EmbeddedServer | None = None


@pytest.fixture
def thumbnails(monkeypatch) -> GatedThumbnails:
    gated = GatedThumbnails()
    real = service_module.make_thumbnail

    def make_thumbnail(data: bytes) -> bytes:
        state = gated.server.app.state
        gated.calls.append((state.upload_budget.used, state.cpu_limiter.borrowed_tokens))
        gated.gate.wait()
        return real(data)

    monkeypatch.setattr(service_module, "make_thumbnail", make_thumbnail)
    return gated


def test_concurrent_first_thumbnail_requests_make_it_once(start_server, thumbnails):
    gate, calls = thumbnails.gate, thumbnails.calls
    server = thumbnails.server = start_server()
    image = upload(server.url, bombs.large_jpeg()).json()
    with ThreadPoolExecutor(12) as pool:
        answers = [
            pool.submit(requests.get, f"{server.url}/t/{image['id']}.webp", timeout=120)
            for _ in range(12)
        ]
        wait_until(lambda: len(calls) >= 1, 60, "the first thumbnail")
        gate.opened.set()
        responses = [a.result() for a in answers]
    assert [r.status_code for r in responses] == [200] * 12
    assert len({r.content for r in responses}) == 1
    assert len(calls) == 1
    budget_used, slots_taken = calls[0]
    assert budget_used >= 4000 * 3000 // 64  # its pixels (decoded at 1/8 scale) are charged
    assert slots_taken == 1  # on the image-work limiter


def _upload_bombs(server: EmbeddedServer, gate: Gate, build: Callable[[], bytes]):
    """Four bombs at once; each one the server accepts waits at the gate in a processing slot."""
    pool = ThreadPoolExecutor(4)
    bomb = build()
    futures = [pool.submit(upload, server.url, bomb, f"bomb{i}") for i in range(4)]
    return pool, futures


UPLOAD_BOMBS = {
    "RGBA PNG": lambda: bombs.area_png(2000),
    "GIF logical screen": lambda: bombs.screen_gif(3000),
    "WebP canvas": lambda: bombs.canvas_webp(1500),
    "progressive JPEG scans": lambda: bombs.scan_jpeg(side=2048, copies=300),
}


@pytest.mark.parametrize("build", UPLOAD_BOMBS.values(), ids=UPLOAD_BOMBS.keys())
def test_health_and_normal_uploads_answer_while_upload_bombs_are_in_flight(start_server, build):
    gate = Gate()
    normal = samples.unique_jpeg(seed=7, size=(320, 240))

    def hold_bombs(processed: Processed) -> None:
        if processed.info.width >= 1000:
            gate.wait()

    server = start_server(checks=[hold_bombs], workers=2)
    pool, in_flight = _upload_bombs(server, gate, build)
    try:
        wait_until(
            lambda: gate.waiting >= 1 or all(f.done() for f in in_flight), 60, "bombs at work"
        )
        _assert_served_meanwhile(server, normal, in_flight, gate)
    finally:
        gate.opened.set()
        statuses = [f.result().status_code for f in in_flight]
        pool.shutdown()
    assert set(statuses) <= {201, 422}


def test_health_and_normal_uploads_answer_during_a_thumbnail_storm(start_server, thumbnails):
    gate = thumbnails.gate
    server = thumbnails.server = start_server(workers=2)
    normal = samples.unique_jpeg(seed=8, size=(320, 240))
    images = [upload(server.url, bombs.large_jpeg(seed)).json() for seed in range(3)]
    pool = ThreadPoolExecutor(45)
    storm: list[Future] = [
        pool.submit(requests.get, f"{server.url}/t/{images[i % 3]['id']}.webp", timeout=120)
        for i in range(45)
    ]
    try:
        wait_until(lambda: gate.waiting >= 1, 60, "the storm at work")
        _assert_served_meanwhile(server, normal, storm, gate)
    finally:
        gate.opened.set()
        statuses = [f.result().status_code for f in storm]
        pool.shutdown()
    assert statuses == [200] * 45


def _assert_served_meanwhile(server, normal: bytes, in_flight: list[Future], gate: Gate):
    """/healthz, a normal upload and an image are answered while the bombs are still held."""
    health = requests.get(f"{server.url}/healthz", timeout=60)
    assert health.status_code == 200
    response = upload(server.url, normal, "normal.jpg")
    assert response.status_code == 201, response.text
    served = requests.get(response.json()["url"], timeout=60)
    assert served.status_code == 200
    if gate.waiting:  # some bombs were accepted and are being worked on: still in flight
        assert not gate.opened.is_set()
        assert not all(f.done() for f in in_flight)


def test_a_thumbnail_nobody_waits_for_any_more_is_abandoned(start_server):
    server = start_server(decode_timeout=600)
    state = server.app.state
    slow = bombs.scan_jpeg(side=2048, copies=600)  # seconds of decoding, for the upload too
    image = upload(server.url, slow)
    if image.status_code == 422:  # refused by a structural limit: bounded
        return
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    sock = socket.create_connection((host, int(port)))
    sock.sendall(f"GET /t/{image.json()['id']}.webp HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    wait_until(lambda: state.cpu_limiter.borrowed_tokens > 0, 60, "the thumbnail's decode")
    sock.close()
    wait_until(lambda: state.cpu_limiter.borrowed_tokens == 0, 60, "the slot to be given back")
    assert state.upload_budget.used == 0
    record = state.service.lookup(image.json()["id"])
    assert state.service.stored_thumbnail(record) is None  # stopped, not finished
