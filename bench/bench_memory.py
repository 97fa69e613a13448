"""The server's peak memory while it takes 16 concurrent ~25 MB uploads.

    python bench/bench_memory.py [--clients 16]

Bodies must stream to disk, not pile up in RAM: the target is a peak RSS under 200 MB. The
image is a noise PNG (incompressible, so ~25 MB on the wire for 8.4 MP), accepted by the server.
"""

from __future__ import annotations

import argparse
import io
import os
from concurrent.futures import ThreadPoolExecutor

import requests
from PIL import Image

from bench.harness import Row, picdrop_server, print_table, rss_peak_kb


def noise_png(side: int) -> bytes:
    image = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=1)
    return out.getvalue()


def run(clients: int = 16) -> list[Row]:
    # Distinct bodies, so every upload is really processed and stored.
    bodies = [noise_png(2890) for _ in range(clients)]  # ~25 MB each
    with picdrop_server() as (url, proc):
        idle_kb = rss_peak_kb(proc.pid)

        def send(body: bytes) -> int:
            with requests.Session() as s:
                return s.post(
                    f"{url}/api/upload", files={"file": ("n.png", body)}, timeout=300
                ).status_code

        with ThreadPoolExecutor(clients) as pool:
            statuses = list(pool.map(send, bodies))
        peak_kb = rss_peak_kb(proc.pid)
    if any(s != 201 for s in statuses):
        raise RuntimeError(f"uploads failed: {statuses}")
    size_mb = len(bodies[0]) / 1e6
    return [
        Row(
            "memory",
            f"peak RSS, {clients} x {size_mb:.0f} MB uploads",
            peak_kb / 1024,
            "MB",
            "idle",
            idle_kb / 1024,
            target="< 200 MB",
            goal=("<=", "value", 200),
        ),
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=16)
    print_table(run(parser.parse_args().clients))
