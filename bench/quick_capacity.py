"""Back-of-the-envelope capacity figures for docs/DEPLOY.md: uploads/s on one core, and bytes/s
served by the app, by nginx's cache and by nginx with X-Accel-Redirect.

    python bench/quick_capacity.py            # about a minute; needs nginx and wrk

A quick measurement, not a benchmark suite: one replica pinned to one core (taskset) with one
image job at a time, the default single-machine engines (SQLite, filesystem), the client on the
other core, all on loopback. The bench/ suite will refine these figures.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import io

import requests
from PIL import Image

from tests.backend import imagesamples
from tests.services import Nginx, ServerProcess, free_port, render_nginx_site


def _jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def _variants(make, count: int) -> list[bytes]:
    return [make(i) for i in range(count)]


def measure_uploads(url: str, files: list[bytes], concurrency: int) -> tuple[float, float]:
    """(uploads per second, median latency in ms) for uploading every file once."""
    latencies: list[float] = []

    def send(data: bytes) -> None:
        with requests.Session() as s:
            start = time.perf_counter()
            r = s.post(f"{url}/api/upload", files={"file": ("x.jpg", data)}, timeout=120)
            latencies.append(time.perf_counter() - start)
            assert r.status_code == 201, r.text

    send(files[0])  # warm up (imports, first connection)
    latencies.clear()
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(send, files[1:]))
    elapsed = time.perf_counter() - start
    return (len(files) - 1) / elapsed, statistics.median(latencies) * 1000


def wrk(url: str, seconds: int = 5, connections: int = 16) -> tuple[float, float]:
    """(requests per second, megabytes per second) that wrk reports."""
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    value, unit = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", out).groups()
    scale = {"B": 1e-6, "KB": 1 / 1024, "MB": 1.0, "GB": 1024.0}[unit]
    return rps, float(value) * scale


def main() -> int:
    for program in ("nginx", "wrk", "taskset"):
        if shutil.which(program) is None and not Path(f"/usr/sbin/{program}").exists():
            print(f"needs {program}", file=sys.stderr)
            return 1
    cores = sorted(os.sched_getaffinity(0))
    server_core, client_cores = cores[0], set(cores[1:]) or {cores[0]}
    os.sched_setaffinity(0, client_cores)
    work = Path(tempfile.mkdtemp(prefix="picdrop-capacity-"))
    work.chmod(0o755)
    print("making test images...", file=sys.stderr)
    photos = _variants(lambda i: _jpeg(imagesamples.photo((4000, 3000), seed=i)), 9)
    screens = _variants(lambda i: _jpeg(imagesamples.photo((1920, 1080), seed=100 + i)), 41)
    rows: list[tuple[str, str]] = []
    nginx_port = free_port()
    env = {
        "PICDROP_DATA_DIR": str(work / "data"),
        "PICDROP_WORKERS": "1",
        "PICDROP_SWEEP_INTERVAL": "0",
        "PICDROP_LOG_REQUESTS": "0",
        "PICDROP_PUBLIC_URL": f"http://127.0.0.1:{nginx_port}",
        "PICDROP_X_ACCEL_REDIRECT": "/_picdrop_blobs/",
    }
    plain = ServerProcess({**env, "PICDROP_X_ACCEL_REDIRECT": ""}, work, "plain").start()
    accel = ServerProcess(env, work, "accel").start()
    nginx = None
    try:
        for server in (plain, accel):
            server.wait()
            subprocess.run(["taskset", "-acp", str(server_core), str(server.proc.pid)],
                           check=True, capture_output=True)  # fmt: skip

        rate, latency = measure_uploads(plain.url, photos, concurrency=2)
        size = statistics.mean(map(len, photos)) / 1e6
        rows.append((f"uploads/s, 12 MP JPEG ({size:.1f} MB), 1 core",
                     f"{rate:.1f}/s (median {latency:.0f} ms)"))  # fmt: skip
        rate, latency = measure_uploads(plain.url, screens, concurrency=4)
        size = statistics.mean(map(len, screens)) / 1e6
        rows.append((f"uploads/s, 1920x1080 JPEG ({size:.2f} MB), 1 core",
                     f"{rate:.1f}/s (median {latency:.0f} ms)"))  # fmt: skip

        # Serving one hot 1080p image.
        r = requests.post(f"{plain.url}/api/upload",
                          files={"file": ("x.jpg", screens[0])}, timeout=60).json()  # fmt: skip
        path = f"/{r['id']}.jpg"
        nginx = Nginx(
            render_nginx_site(
                listen_port=nginx_port,
                upstreams=[plain.address],
                cache_dir=work / "nginx-cache",
                blobs_dir=work / "data" / "blobs",
            )
        ).start()
        accel_nginx_port = free_port()
        accel_nginx = Nginx(
            render_nginx_site(
                listen_port=accel_nginx_port,
                upstreams=[accel.address],
                cache_dir=work / "nginx-cache-2",
                blobs_dir=work / "data" / "blobs",
            )
        ).start()
        try:
            size_kb = len(requests.get(plain.url + path, timeout=30).content) / 1024
            for label, url in (
                ("app streams it (uvicorn, 1 core)", plain.url + path),
                ("nginx proxy_cache hit (1 worker)", nginx.url + path),
                ("nginx X-Accel-Redirect (app 1 core)", accel_nginx.url + path),
            ):
                requests.get(url, timeout=30)  # fill caches
                rps, mbps = wrk(url)
                rows.append((f"serving a {size_kb:.0f} KB image: {label}",
                             f"{rps:,.0f} req/s = {mbps:,.0f} MB/s"))  # fmt: skip
        finally:
            accel_nginx.stop()
    finally:
        if nginx is not None:
            nginx.stop()
        plain.stop()
        accel.stop()
        shutil.rmtree(work, ignore_errors=True)

    width = max(len(k) for k, _ in rows)
    print(f"picdrop quick capacity ({os.cpu_count()} cores, loopback; noisy on a shared machine)")
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
