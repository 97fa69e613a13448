"""Bombs against a real server: small files that cost much to decode, sent from several clients
at once, while one client times a normal upload and /healthz.

    python -m bench.bench_bombs [--seconds 6] [--clients 4]

Each kind in turn: progressive JPEG with repeated scans, decoded-area bombs (a 190 KB PNG, a
37-byte GIF and a 92-byte WebP of 50 million pixels), many frames (GIF and WebP), and a thumbnail
storm (45 concurrent first requests for the thumbnails of large images). Reported per kind: the
median latency of /healthz and of a normal 320x240 JPEG upload beside the same on an idle server,
and what the bombs got; at the end the peak memory of all the server's processes together (their
summed PSS, sampled throughout; target < 300 MB) beside its limits, and the looser sum of each
process's own peak (VmHWM).
"""

from __future__ import annotations

import argparse
import io
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import requests
from PIL import Image

from backend.settings import Settings
from bench.harness import PeakPss, Row, median, picdrop_server, print_table, rss_peak_kb
from tests.backend import bombs

MB = 1024 * 1024
UPLOAD_BOMBS: dict[str, Callable[[], bytes]] = {
    "scans: progressive JPEG, 300 copied scans": lambda: bombs.scan_jpeg(2048, 300),
    "area: RGBA PNG 7071x7071, 190 KB": bombs.area_png,
    "area: GIF screen 7071x7071, 37 B": bombs.screen_gif,
    "area: WebP canvas 7071x7071, 92 B": bombs.canvas_webp,
    "frames: GIF 500 x 1000x1000": lambda: bombs.frames_gif(500, 1000),
    "frames: WebP 500 x 1000x1000": lambda: bombs.canvas_webp(1000, 500),
}


def _normal_jpeg(seed: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 240), (seed % 256, seed // 256 % 256, 90)).save(out, "JPEG")
    return out.getvalue()


class Probe:
    """One client timing /healthz and a normal upload, over and over, until stopped."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.health: list[float] = []
        self.uploads: list[float] = []
        self.failures = 0
        self._seed = 0

    def once(self, session: requests.Session) -> None:
        start = time.perf_counter()
        ok = session.get(f"{self.url}/healthz", timeout=120).status_code == 200
        self.health.append((time.perf_counter() - start) * 1000)
        self._seed += 1
        start = time.perf_counter()
        r = session.post(
            f"{self.url}/api/upload",
            files={"file": ("n.jpg", _normal_jpeg(self._seed))},
            timeout=120,
        )
        self.uploads.append((time.perf_counter() - start) * 1000)
        self.failures += not ok or r.status_code != 201

    def until(self, stop: threading.Event) -> None:
        with requests.Session() as session:
            while not stop.is_set():
                self.once(session)


def _flood(
    url: str, send: Callable[[requests.Session], int], clients: int, seconds: float
) -> tuple[Probe, Counter[int]]:
    """`clients` threads call `send` until `seconds` pass, while a Probe runs; (probe, outcomes)."""
    stop = threading.Event()
    outcomes: Counter[int] = Counter()

    def client() -> None:
        with requests.Session() as session:
            while not stop.is_set():
                outcomes[send(session)] += 1

    with ThreadPoolExecutor(clients + 1) as pool:
        for _ in range(clients):
            pool.submit(client)
        time.sleep(0.2)  # the bombs are in flight first
        probe = Probe(url)
        probing = pool.submit(probe.until, stop)
        time.sleep(seconds)
        stop.set()
        probing.result()
    return probe, outcomes


def _rows(kind: str, probe: Probe, idle: Probe, outcomes: Counter[int]) -> list[Row]:
    got = ", ".join(f"{n} x {status}" for status, n in sorted(outcomes.items()))
    return [
        Row(f"bombs {kind}", f"/healthz p50, max {max(probe.health):.0f} ms ({got})",
            median(probe.health), "ms", "idle", median(idle.health)),
        Row(f"bombs {kind}",
            f"normal upload p50, max {max(probe.uploads):.0f} ms ({probe.failures} failed)",
            median(probe.uploads), "ms", "idle", median(idle.uploads)),
    ]  # fmt: skip


def run(seconds: float = 6, clients: int = 4) -> list[Row]:
    rows: list[Row] = []
    settings = Settings()
    with picdrop_server() as (url, proc), PeakPss(proc.pid) as peak:
        idle = Probe(url)
        with requests.Session() as session:
            for _ in range(10):
                idle.once(session)
        for kind, build in UPLOAD_BOMBS.items():
            bomb = build()

            def send(session: requests.Session, bomb: bytes = bomb) -> int:
                r = session.post(f"{url}/api/upload", files={"file": ("b", bomb)}, timeout=120)
                return r.status_code

            probe, outcomes = _flood(url, send, clients, seconds)
            rows += _rows(kind, probe, idle, outcomes)
        # Thumbnail storm: 45 first requests at once for each of 16 large images in turn.
        images = [
            requests.post(f"{url}/api/upload", files={"file": ("l.jpg", bombs.large_jpeg(s))},
                          timeout=120).json()["id"]
            for s in range(16)
        ]  # fmt: skip
        queue = iter(images * 1000)
        lock = threading.Lock()

        def storm(session: requests.Session) -> int:
            with lock:
                image_id = next(queue)

            def first_view(_index: int) -> int:
                return requests.get(f"{url}/t/{image_id}.webp", timeout=120).status_code

            with ThreadPoolExecutor(45) as pool:
                statuses = Counter(pool.map(first_view, range(45)))
            return statuses.most_common(1)[0][0]

        probe, outcomes = _flood(url, storm, 1, seconds)
        rows += _rows("thumbnail storm, 45 at once", probe, idle, outcomes)
        hwm_kb = rss_peak_kb(proc.pid)
    limits = (
        f"budget {settings.upload_memory // MB} MB, {settings.job_limit} slots, "
        f"deadline {settings.decode_timeout} s"
    )
    rows += [
        Row("bombs", f"peak PSS of all server processes ({limits})", peak.peak_kb / 1024, "MB",
            target="< 300 MB", goal=("<=", "value", 300)),
        Row("bombs", "sum of each process's peak RSS (VmHWM)", hwm_kb / 1024, "MB"),
    ]  # fmt: skip
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=6)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    print_table(run(args.seconds, args.clients))
