"""The orphan sweep at 10k, 100k (and with --scale 1M) images and blobs.

    python -m bench.bench_sweep [--scale] [--sizes 10000,100000]

Each size is bulk-filled into a fresh data dir: rows straight into the SQLite catalog (`images`
and `blobs`, keys from the real key function), files straight into the blob tree the file store
uses (a thumbnail for every tenth image), all older than the orphan grace, plus 1% orphan blobs
and thumbnails older than the grace and a few younger ones (which must stay). Then:

- `picdrop-server sweep` (the CLI) in a subprocess: wall time, its peak RSS, and that it removed
  exactly the old orphans;
- the orphans again, and one `serve` process (sweep every second, held until the bench releases
  it): its RSS idle, its peak during the sweep and after it, and the latency of a cached GET of
  one image on a keep-alive connection, idle and during the sweep.

Targets (issue 22, at 1M): sweep peak RSS < 150 MB, the server's RSS back within 20 MB of idle
after a sweep, cached GET p99 during a sweep < 5 ms. The growth from the first size is printed.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from backend.assembly import build
from backend.catalog.backup import hold_sweep, release_sweep
from backend.service import new_blob_key, thumbnail_key
from backend.settings import Settings
from bench.harness import ROOT, Row, jpeg_of_size, picdrop_server, print_table

SIZES = (10_000, 100_000)
SCALE_SIZES = (*SIZES, 1_000_000)
GRACE = Settings().orphan_grace
CHUNK = 100_000
BLOB = b"\xff\xd8 not decoded by the sweep \xff\xd9"
MB = 1024
ROUND = 10  # seconds between the server's sweeps: room to measure it idle first


@dataclass
class Filled:
    data_dir: Path
    orphans: list[str]  # older than the grace: the sweep removes exactly these
    young: list[str]  # orphans younger than the grace: they stay
    files: int  # files in the blob tree, orphans included
    seconds: float


def write_blob(root: Path, key: str, mtime: float) -> None:
    path = root / key
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, BLOB)
        os.utime(fd, (mtime, mtime))
    finally:
        os.close(fd)


def fill(data_dir: Path, count: int, rng: random.Random) -> Filled:
    """`count` images, each with its own blob, and their files; 1% orphans."""
    start = time.monotonic()
    settings = Settings(data_dir=data_dir, sweep_interval=0)
    backend = build(settings, migrate=True)
    root = Path(settings.resolved_storage_url)
    old = time.time() - 2 * GRACE
    alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    files = 0
    for first in range(0, count, CHUNK):
        shas = [f"{rng.getrandbits(256):064x}" for _ in range(min(CHUNK, count - first))]
        keys = [new_blob_key(sha, "jpg") for sha in shas]
        with backend.catalog.writing() as conn:
            conn.exec_driver_sql(
                "INSERT INTO images (id, blob_key, sha256, mime, ext, width, height, size, "
                "frames, delete_token_hash, created_at) "
                "VALUES (?, ?, ?, 'image/jpeg', 'jpg', 640, 480, ?, 1, ?, ?)",
                [
                    ("".join(rng.choices(alphabet, k=10)), key, sha, len(BLOB), sha, old)
                    for sha, key in zip(shas, keys, strict=True)
                ],
            )
            conn.exec_driver_sql(
                "INSERT INTO blobs (key, size, refcount, created_at, sha256) "
                "VALUES (?, ?, 1, ?, ?)",
                [(key, len(BLOB), old, sha) for sha, key in zip(shas, keys, strict=True)],
            )
        for i, (sha, key) in enumerate(zip(shas, keys, strict=True)):
            write_blob(root, key, old)
            if i % 10 == 0:
                write_blob(root, thumbnail_key(sha), old)
                files += 1
        files += len(keys)
    orphans = []
    for i in range(max(100, count // 100)):
        sha = f"{rng.getrandbits(256):064x}"
        orphans.append(thumbnail_key(sha) if i % 10 == 0 else new_blob_key(sha, "png"))
    young = [new_blob_key(f"{rng.getrandbits(256):064x}", "webp") for _ in range(10)]
    for key in orphans:
        write_blob(root, key, old)
    for key in young:
        write_blob(root, key, time.time())
    backend.close()
    return Filled(
        data_dir, orphans, young, files + len(orphans) + len(young), time.monotonic() - start
    )


def blob_files(data_dir: Path) -> int:
    return sum(len(files) for _, _, files in os.walk(data_dir / "blobs"))


def check_swept(filled: Filled, before: int) -> None:
    """Exactly the old orphans are gone from the `before` files."""
    root = filled.data_dir / "blobs"
    left = [k for k in filled.orphans if (root / k).exists()]
    gone = [k for k in filled.young if not (root / k).exists()]
    count = blob_files(filled.data_dir)
    expected = before - len(filled.orphans)
    if left or gone or count != expected:
        raise RuntimeError(
            f"the sweep left {len(left)} old orphans, removed {len(gone)} young ones, and "
            f"{count} files are left where {expected} should be"
        )


def cli_sweep(filled: Filled) -> tuple[float, float]:
    """`picdrop-server sweep` in a subprocess: (wall seconds, peak RSS in MB)."""
    env = {**os.environ, "PICDROP_DATA_DIR": str(filled.data_dir)}
    start = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "backend", "sweep"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    # Its own high-water mark, read while it runs: getrusage's figure for a child includes the
    # memory of this (big) process it was forked from.
    peak = 0
    while proc.poll() is None:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError, KeyError):
            peak = max(peak, status_kb(proc.pid, "VmHWM"))
        time.sleep(0.02)
    wall = time.monotonic() - start
    out = proc.stdout.read().decode()
    if proc.returncode != 0:
        raise RuntimeError(f"sweep failed: {out}")
    removed = int(re.search(r"removed (\d+)", out).group(1))
    if removed != len(filled.orphans):
        raise RuntimeError(f"the sweep removed {removed}, expected {len(filled.orphans)}")
    check_swept(filled, filled.files)
    return wall, peak / MB


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def get_times(url: str, path: str, stop: threading.Event, times: list[float]) -> None:
    """GET `path` over and over on one keep-alive connection, milliseconds each."""
    conn = http.client.HTTPConnection(url.removeprefix("http://"), timeout=30)
    while not stop.is_set():
        start = time.perf_counter()
        conn.request("GET", path)
        answer = conn.getresponse()
        answer.read()
        times.append((time.perf_counter() - start) * 1000)
        if answer.status != 200:
            raise RuntimeError(f"GET {path}: {answer.status}")
    conn.close()


def p99(times: list[float]) -> float:
    return statistics.quantiles(times, n=100)[-1]


@dataclass
class Served:
    idle_mb: float
    peak_mb: float
    after_mb: float
    sweep_s: float
    idle_ms: list[float]
    during_ms: list[float]


def wait_for(log: Path, pattern: bytes, proc: subprocess.Popen, each=None) -> re.Match:
    """Until `pattern` is in the server's log, calling `each` every 20 ms."""
    while not (found := re.search(pattern, log.read_bytes())):
        if proc.poll() is not None:
            raise RuntimeError("the server stopped")
        if each:
            each()
        time.sleep(0.02)
    return found


def served_sweep(filled: Filled) -> Served:
    """One `serve` process, its sweep held at start-up (measured idle meanwhile) and released
    for its next round, ROUND seconds later."""
    root = filled.data_dir / "blobs"
    old = time.time() - 2 * GRACE
    for key in filled.orphans:
        write_blob(root, key, old)
    backend = build(Settings(data_dir=filled.data_dir, sweep_interval=0))
    hold_sweep(backend.catalog, "the bench measures the idle server first")
    env = {"PICDROP_PROCESSES": "1", "PICDROP_SWEEP_INTERVAL": str(ROUND)}
    with (
        tempfile.NamedTemporaryFile(prefix="picdrop-bench-sweep-log-") as log_file,
        picdrop_server(env, data_dir=filled.data_dir, log_path=Path(log_file.name)) as (url, proc),
    ):
        log = Path(log_file.name)
        wait_for(log, rb"orphan sweep held", proc)
        next_round = time.monotonic() + ROUND
        answer = requests.post(
            f"{url}/api/upload", files={"file": ("p.jpg", jpeg_of_size(100_000))}, timeout=30
        )
        answer.raise_for_status()
        path = f"/{answer.json()['id']}.jpg"
        before = blob_files(filled.data_dir)  # with the upload's
        stop = threading.Event()
        idle_ms: list[float] = []
        threading.Timer(3, stop.set).start()
        get_times(url, path, stop, idle_ms)  # warms the cache, then the idle figures
        idle_ms = idle_ms[100:]
        idle = status_kb(proc.pid, "VmRSS")
        release_sweep(backend.catalog)
        if time.monotonic() > next_round - 0.5:
            raise RuntimeError(f"measuring idle took longer than the {ROUND} s between sweeps")

        during_ms: list[float] = []
        stop.clear()
        time.sleep(next_round - 0.2 - time.monotonic())
        client = threading.Thread(target=get_times, args=(url, path, stop, during_ms))
        client.start()
        start = time.monotonic()
        peak = [idle]
        found = wait_for(
            log,
            rb"(\d+) orphan blobs removed",
            proc,
            lambda: peak.append(max(peak[-1], status_kb(proc.pid, "VmRSS"))),
        )
        sweep_s = time.monotonic() - start
        stop.set()
        client.join()
        if int(found.group(1)) != len(filled.orphans):
            raise RuntimeError(f"the server's sweep removed {found.group(1)} orphans")
        time.sleep(2)  # the worker thread's memory handed back, or not
        after = status_kb(proc.pid, "VmRSS")
        high = max(peak[-1], status_kb(proc.pid, "VmHWM"))
    backend.close()
    check_swept(filled, before)
    return Served(idle / MB, high / MB, after / MB, sweep_s, idle_ms, during_ms)


def run(sizes=SIZES) -> list[Row]:
    rows: list[Row] = []
    first: dict[str, float] = {}
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="picdrop-bench-sweep-") as tmp:
            filled = fill(Path(tmp), size, random.Random(size))
            wall, cli_mb = cli_sweep(filled)
            served = served_sweep(filled)
        during_p99 = p99(served.during_ms)
        figures = {"wall": wall, "cli": cli_mb, "p99": during_p99}
        for name, value in figures.items():
            first.setdefault(name, value)
        growth = ", ".join(f"{n} {v / first[n]:.2f}x" for n, v in figures.items())
        print(
            f"{size:>9,} images (filled in {filled.seconds:.0f} s, {filled.files:,} files, "
            f"{len(filled.orphans):,} orphans): CLI sweep {wall:.1f} s, peak RSS {cli_mb:.0f} MB; "
            f"server RSS idle {served.idle_mb:.0f} MB, peak {served.peak_mb:.0f} MB, after "
            f"{served.after_mb:.0f} MB (sweep {served.sweep_s:.1f} s); cached GET idle p50 "
            f"{statistics.median(served.idle_ms):.2f} ms p99 {p99(served.idle_ms):.2f} ms, "
            f"during the sweep p50 {statistics.median(served.during_ms):.2f} ms "
            f"p99 {during_p99:.2f} ms ({len(served.during_ms):,} GETs); growth from "
            f"{sizes[0]:,}: {growth}; load average {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        n = f"{size:,} images"
        rows += [
            Row(
                "sweep",
                f"CLI sweep wall, {n}",
                wall,
                "s",
                reference=f"{sizes[0]:,} images",
                reference_value=first["wall"],
            ),
            Row(
                "sweep",
                f"CLI sweep peak RSS, {n}",
                cli_mb,
                "MB",
                reference=f"{sizes[0]:,} images",
                reference_value=first["cli"],
                target="< 150 MB",
                goal=("<=", "value", 150.0),
            ),
            Row(
                "sweep",
                f"server RSS after a sweep - idle, {n}",
                served.after_mb - served.idle_mb,
                "MB",
                reference="peak - idle",
                reference_value=served.peak_mb - served.idle_mb,
                target="< 20 MB",
                goal=("<=", "value", 20.0),
            ),
            Row(
                "sweep",
                f"cached GET p99 during a sweep, {n}",
                during_p99,
                "ms",
                reference="idle p99",
                reference_value=p99(served.idle_ms),
                target="< 5 ms",
                goal=("<=", "value", 5.0),
            ),
        ]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", action="store_true", help="add 1M images")
    parser.add_argument("--sizes", help="comma-separated image counts instead")
    args = parser.parse_args()
    sizes = SCALE_SIZES if args.scale else SIZES
    if args.sizes:
        sizes = tuple(int(s) for s in args.sizes.split(","))
    print_table(run(sizes))


if __name__ == "__main__":
    main()
