"""The server's peak memory while it takes 16 concurrent ~25 MB uploads.

    python -m bench.bench_memory [--clients 16]

Bodies must stream to disk, not pile up in RAM, and image work must stay within the upload
memory budget, which all the server processes share. The figure is the peak of the server's
processes' memory together (the supervisor of `serve --processes N` and its processes, the
default count), sampled as their summed PSS, so that pages they share count once; the sum of
their own peaks (VmHWM, pages shared counted in each, peaks at different moments added) is a
second, looser row. The image is a noise PNG (incompressible, so ~25 MB on the wire for 8.4 MP),
accepted by the server.
"""

from __future__ import annotations

import argparse
import io
import os
from concurrent.futures import ThreadPoolExecutor

import requests
from PIL import Image

from bench.harness import PeakPss, Row, picdrop_server, print_table, pss_kb, rss_peak_kb

TARGET_MB = 300  # issue 20: all the server's processes together


def noise_png(side: int) -> bytes:
    image = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=1)
    return out.getvalue()


def run(clients: int = 16) -> list[Row]:
    # Distinct bodies, so every upload is really processed and stored.
    bodies = [noise_png(2890) for _ in range(clients)]  # ~25 MB each
    with picdrop_server() as (url, proc):
        idle_pss_kb = pss_kb(proc.pid)
        idle_hwm_kb = rss_peak_kb(proc.pid)

        def send(body: bytes) -> int:
            with requests.Session() as s:
                return s.post(
                    f"{url}/api/upload", files={"file": ("n.png", body)}, timeout=300
                ).status_code

        with PeakPss(proc.pid) as peak, ThreadPoolExecutor(clients) as pool:
            statuses = list(pool.map(send, bodies))
        hwm_kb = rss_peak_kb(proc.pid)
    if any(s != 201 for s in statuses):
        raise RuntimeError(f"uploads failed: {statuses}")
    uploads = f"{clients} x {len(bodies[0]) / 1e6:.0f} MB uploads"
    return [
        Row(
            "memory",
            f"peak PSS of all server processes, {uploads}",
            peak.peak_kb / 1024,
            "MB",
            "idle",
            idle_pss_kb / 1024,
            target=f"< {TARGET_MB} MB",
            goal=("<=", "value", TARGET_MB),
        ),
        Row(
            "memory",
            f"sum of each process's peak RSS (VmHWM), {uploads}",
            hwm_kb / 1024,
            "MB",
            "idle",
            idle_hwm_kb / 1024,
        ),
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=16)
    print_table(run(parser.parse_args().clients))
