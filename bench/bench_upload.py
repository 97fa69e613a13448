"""Uploads of a ~450 KB JPEG (unique bytes each): picdrop against an nginx sink, same run.

    python bench/bench_upload.py [--uploads 200] [--clients 8] [--runs 3]

The load generator is `requests` sessions from 8 threads, as the issue specifies. Reported:
uploads/s (median of runs) against nginx reading the same bodies into its void, and p50/p95
latency of one upload.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from bench.harness import (
    Row,
    have,
    jpeg_of_size,
    median,
    nginx,
    picdrop_server,
    print_table,
    unique_variants,
)


def _blast(url: str, bodies: list[bytes], clients: int) -> tuple[float, list[float]]:
    """Send every body once from `clients` threads; (uploads/s, latencies in ms)."""
    latencies: list[float] = []
    sessions = [requests.Session() for _ in range(clients)]

    def send(index: int) -> None:
        session = sessions[index % clients]
        start = time.perf_counter()
        r = session.post(url, files={"file": ("p.jpg", bodies[index])}, timeout=60)
        latencies.append((time.perf_counter() - start) * 1000)
        if r.status_code not in (200, 201):
            raise RuntimeError(f"{url}: {r.status_code} {r.text[:200]}")

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(send, range(len(bodies))))
    elapsed = time.perf_counter() - start
    for s in sessions:
        s.close()
    return len(bodies) / elapsed, latencies


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(
    uploads: int = 200, clients: int = 8, runs: int = 3, extra_env: dict[str, str] | None = None
) -> list[Row]:
    if not have("nginx"):
        print("bench_upload: skipped, needs nginx")
        return []
    base = jpeg_of_size(450_000)
    bodies = unique_variants(base, uploads * runs)
    ours, theirs, lat = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp).chmod(0o755)
        with nginx(Path(tmp)) as sink, picdrop_server(extra_env) as (url, _proc):
            _blast(f"{url}/api/upload", unique_variants(jpeg_of_size(450_000, seed=9), 16), clients)
            for i in range(runs):
                batch = bodies[i * uploads : (i + 1) * uploads]
                theirs.append(_blast(f"{sink}/sink", batch, clients)[0])
                rate, latencies = _blast(f"{url}/api/upload", batch, clients)
                ours.append(rate)
                lat.extend(latencies)
    return [
        Row(
            "upload 450 KB JPEG",
            f"uploads/s, {clients} clients",
            median(ours),
            "/s",
            "nginx sink",
            median(theirs),
            target=">= 0.30x",
            goal=(">=", "ratio", 0.30),
        ),
        Row("upload 450 KB JPEG", "latency p50", _percentile(lat, 0.5), "ms"),
        Row("upload 450 KB JPEG", "latency p95", _percentile(lat, 0.95), "ms"),
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--uploads", type=int, default=200)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print_table(run(args.uploads, args.clients, args.runs))
