"""Shared pieces of the benchmarks: real servers in subprocesses, wrk, medians, sample files.

Everything runs on 127.0.0.1; every figure is a median of several runs and is reported beside a
reference measured in the same run (nginx, curl, Pillow), because these machines are shared and
noisy and only ratios compare across runs.
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import requests
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.backend import imagesamples  # noqa: E402  (needs ROOT on sys.path when run as a script)


@dataclass
class Row:
    """One line of the results table."""

    bench: str
    metric: str
    value: float
    unit: str
    reference: str = ""
    reference_value: float | None = None
    target: str = ""
    # The target in a form that can be checked: (">=" or "<=", "ratio" or "value", bound).
    goal: tuple[str, str, float] | None = None

    @property
    def ratio(self) -> float | None:
        if not self.reference_value:
            return None
        return self.value / self.reference_value

    @property
    def met(self) -> bool | None:
        """Whether the target is met (None: the row has no checkable target)."""
        if self.goal is None:
            return None
        op, of, bound = self.goal
        got = self.ratio if of == "ratio" else self.value
        if got is None:
            return None
        return got >= bound if op == ">=" else got <= bound

    @property
    def score(self) -> float | None:
        """How far the target is reached: 1.0 exactly at it, above 1 better (for the plot)."""
        if self.goal is None:
            return None
        op, of, bound = self.goal
        got = self.ratio if of == "ratio" else self.value
        if not got or not bound:
            return None
        return got / bound if op == ">=" else bound / got


def median(values: list[float]) -> float:
    return statistics.median(values)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


def have(program: str) -> bool:
    return shutil.which(program) is not None


# -- sample images ---------------------------------------------------------------------------
def jpeg_of_size(target_bytes: int, seed: int = 0) -> bytes:
    """A camera-like JPEG close to `target_bytes` (grows the picture until it gets there)."""
    width = 640
    while True:
        height = width * 3 // 4
        out = io.BytesIO()
        imagesamples.photo((width, height), seed=seed).save(out, "JPEG", quality=90)
        if out.tell() >= target_bytes * 0.95:
            return out.getvalue()
        width = int(width * (target_bytes / out.tell()) ** 0.5 * 1.02) + 8


def unique_variants(data: bytes, count: int) -> list[bytes]:
    """`count` different JPEGs like `data` (one changed block each), so no upload dedupes."""
    base = Image.open(io.BytesIO(data))
    base.load()
    rng = random.Random(42)
    variants = []
    for _ in range(count):
        im = base.copy()
        x, y = rng.randrange(base.width - 16), rng.randrange(base.height - 16)
        im.paste(
            (rng.randrange(256), rng.randrange(256), rng.randrange(256)), (x, y, x + 16, y + 16)
        )
        out = io.BytesIO()
        im.save(out, "JPEG", quality=90)
        variants.append(out.getvalue())
    return variants


# -- servers -----------------------------------------------------------------------------------
@contextlib.contextmanager
def picdrop_server(
    extra_env: dict[str, str] | None = None,
    *args: str,
    data_dir: Path | None = None,
    log_path: Path | None = None,
) -> Iterator[tuple[str, subprocess.Popen]]:
    """`picdrop-server serve` in a subprocess with a fresh data dir (or `data_dir`), with its
    default process count unless PICDROP_PROCESSES says otherwise: yields (url, process) once
    every server process has started. Its log goes to `log_path` if given."""
    port = free_port()
    with contextlib.ExitStack() as stack:
        data = (
            str(data_dir)
            if data_dir
            else stack.enter_context(tempfile.TemporaryDirectory(prefix="picdrop-bench-"))
        )
        log = stack.enter_context(
            log_path.open("w+b")
            if log_path
            else tempfile.NamedTemporaryFile(prefix="picdrop-bench-log-")  # noqa: SIM115
        )
        env = {
            **os.environ,
            "PICDROP_LOG_REQUESTS": "0",
            "PICDROP_SWEEP_INTERVAL": "0",
            # One client sending hundreds of uploads: no upload limit (the others stay on).
            "PICDROP_UPLOAD_RATE": "off",
            **(extra_env or {}),
        }
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "backend",
                "serve",
                "--port",
                str(port),
                "--data-dir",
                data,
                *args,
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,  # start-up lines only (no request log): how many processes are up
        )
        url = f"http://127.0.0.1:{port}"
        processes = int(env.get("PICDROP_PROCESSES") or 0) or os.cpu_count() or 1
        try:
            wait_http(url + "/healthz")
            deadline = time.monotonic() + 60
            while Path(log.name).read_text().count("Application startup complete") < processes:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"{processes} server processes did not start")
                time.sleep(0.05)
            yield url, proc
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


NGINX_CONF = """
daemon off;
worker_processes {workers};
error_log {prefix}/error.log warn;
pid {prefix}/nginx.pid;
user root;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    types {{ image/jpeg jpg; }}
    server {{
        listen 127.0.0.1:{port};
        root {root};
        client_max_body_size 30m;
        client_body_buffer_size 1m;
        # The upload reference: nginx reads the whole body, then answers 201.
        location = /sink {{ return 201 "ok\\n"; }}
{extra}
    }}
}}
"""


@contextlib.contextmanager
def nginx(root: Path, extra: str = "", workers: int = 1) -> Iterator[str]:
    """nginx serving `root` (and a /sink that swallows uploads); yields its base URL."""
    port = free_port()
    prefix = Path(tempfile.mkdtemp(prefix="picdrop-nginx-"))
    prefix.chmod(0o755)  # worker processes must be able to read what is under it
    conf = prefix / "nginx.conf"
    conf.write_text(
        textwrap.dedent(NGINX_CONF).format(
            prefix=prefix, port=port, root=root, extra=extra, workers=workers
        )
    )
    proc = subprocess.Popen(
        ["nginx", "-c", str(conf), "-p", str(prefix)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/")
        yield url
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(prefix, ignore_errors=True)


# -- load generators ---------------------------------------------------------------------------
def wrk(url: str, *, threads: int = 2, connections: int = 32, seconds: int = 10) -> float:
    """Requests per second that wrk reaches against `url` (non-2xx answers make it fail)."""
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"wrk got errors from {url}:\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def rss_peak_kb(pid: int) -> int:
    """The high-water marks of resident memory (VmHWM) of a process and of its children (the
    processes of `serve --processes N`) added up, in KiB: a bound on their peak together."""
    total = 0
    for member in (pid, *(child.pid for child in psutil.Process(pid).children(recursive=True))):
        for line in Path(f"/proc/{member}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                total += int(line.split()[1])
    return total


def pss_kb(pid: int) -> int:
    """The proportional set size (PSS) of a process and its children added up, in KiB: their
    memory together now, each shared page counted once (RSS counts it in each process)."""
    total = 0
    for member in (pid, *(child.pid for child in psutil.Process(pid).children(recursive=True))):
        try:
            rollup = Path(f"/proc/{member}/smaps_rollup").read_text()
        except OSError:  # gone meanwhile (a process being replaced)
            continue
        pss = next(line for line in rollup.splitlines() if line.startswith("Pss:"))
        total += int(pss.split()[1])
    return total


# Seconds between PSS samples: far shorter than an upload's image work (~1 s at 25 MB).
PSS_SAMPLE_EVERY = 0.02


class PeakPss:
    """Samples the summed PSS of a process and its children on a thread, keeping the peak."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(PSS_SAMPLE_EVERY):
            self.peak_kb = max(self.peak_kb, pss_kb(self.pid))

    def __enter__(self) -> PeakPss:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_kb = max(self.peak_kb, pss_kb(self.pid))


def print_table(rows: list[Row], file=None) -> None:
    headers = ("bench", "metric", "value", "reference", "ratio", "target", "met")
    lines = []
    for r in rows:
        value = f"{r.value:,.2f} {r.unit}"
        ref = f"{r.reference} {r.reference_value:,.2f}" if r.reference_value else r.reference
        ratio = f"{r.ratio:.2f}x" if r.ratio is not None else ""
        met = {True: "yes", False: "NO", None: ""}[r.met]
        lines.append((r.bench, r.metric, value, ref, ratio, r.target, met))
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(headers)]
    fmt = " | ".join(f"{{:{w}}}" for w in widths)
    print(fmt.format(*headers).rstrip(), file=file)
    print("-+-".join("-" * w for w in widths), file=file)
    for line in lines:
        print(fmt.format(*line).rstrip(), file=file)
