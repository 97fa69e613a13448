"""Real services for tests, all on 127.0.0.1 and all started and stopped by the test run:
PostgreSQL (initdb + pg_ctl in a temp dir), an S3 protocol server (moto's ThreadedMotoServer,
reached over HTTP), redis-server, nginx, and the picdrop server as a separate process.

Each class has `start()` / `stop()`; each raises `Unavailable` when its program is missing, which
the fixtures turn into a skip (or a failure under PICDROP_REQUIRE_ALL=1). Also used by bench/.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import psutil
import requests

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy"


class Unavailable(Exception):
    """A program or library a service needs is not installed."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check: Callable[[], bool], timeout: float, what: str, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if check():
                return
        time.sleep(0.05)
    tail = ""
    if log is not None and log.exists():
        tail = "\n" + log.read_text(errors="replace")[-3000:]
    raise TimeoutError(f"{what} did not come up within {timeout} s{tail}")


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


def _shared_tempdir(prefix: str) -> Path:
    """A temp dir that unprivileged service users (postgres, nginx workers) can enter."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


# ---------------------------------------------------------------------------------------------
class Postgres:
    """A throwaway PostgreSQL cluster. As root, initdb and pg_ctl run as the `postgres` user
    (initdb refuses root). Durability is off (fsync, synchronous_commit): it is a test server."""

    def __init__(self) -> None:
        self.bindir = _pg_bindir()
        self.dir: Path | None = None
        self.port = 0
        self._as_postgres = os.geteuid() == 0 if hasattr(os, "geteuid") else False

    def _run(self, *argv: str, **kw) -> subprocess.CompletedProcess:
        cmd = list(argv)
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)

    def start(self) -> Postgres:
        if self._as_postgres:
            try:
                import pwd

                pwd.getpwnam("postgres")
            except KeyError:
                raise Unavailable("a 'postgres' user to run PostgreSQL as (we are root)") from None
        self.dir = _shared_tempdir("picdrop-pg-")
        if self._as_postgres:
            shutil.chown(self.dir, "postgres")
        data = self.dir / "data"
        self._run(
            str(self.bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
            "-E", "UTF8", "--locale=C", "--no-sync",
        )  # fmt: skip
        for _attempt in range(5):
            self.port = free_port()
            try:
                self.start_server()
                return self
            except subprocess.CalledProcessError:
                continue  # most likely the port was taken meanwhile
        raise RuntimeError("PostgreSQL did not start:\n" + self.log())

    def start_server(self) -> None:
        """(Re)starts the server of this cluster on its port (`stop_server` stopped it)."""
        assert self.dir is not None
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=300 -c shared_buffers=32MB"
        )
        self._run(
            str(self.bindir / "pg_ctl"), "-D", str(self.dir / "data"), "-l", str(self.dir / "log"),
            "-w", "-t", "30", "-o", options, "start",
        )  # fmt: skip

    def stop_server(self) -> None:
        """Stops the server (its clients' connections are cut), keeping the cluster."""
        assert self.dir is not None
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "fast",
                  "-w", "stop")  # fmt: skip

    def pids(self) -> list[int]:
        """The postmaster and every backend it forked (Linux /proc): to freeze them all."""
        assert self.dir is not None
        postmaster = int((self.dir / "data" / "postmaster.pid").read_text().split()[0])
        children = Path(f"/proc/{postmaster}/task/{postmaster}/children").read_text().split()
        return [postmaster, *map(int, children)]

    def log(self) -> str:
        path = self.dir / "log" if self.dir else None
        return path.read_text(errors="replace")[-3000:] if path and path.exists() else ""

    def stop(self) -> None:
        if self.dir is None:
            return
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "immediate",
                      "-w", "stop")  # fmt: skip
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(sql)

    def create_database(self) -> str:
        name = "picdrop_" + uuid.uuid4().hex[:12]
        self._admin(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _pg_bindir() -> Path:
    def version(path: str) -> float:
        m = re.search(r"/postgresql/(\d+(?:\.\d+)?)/", path)
        return float(m.group(1)) if m else 0.0

    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True):
        if Path(candidate, "initdb").exists() and Path(candidate, "pg_ctl").exists():
            return Path(candidate)
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl and Path(pg_ctl).with_name("initdb").exists():
        return Path(pg_ctl).parent
    raise Unavailable("PostgreSQL server programs (initdb, pg_ctl; Debian: postgresql)")


# ---------------------------------------------------------------------------------------------
class S3Server:
    """moto's S3 protocol server on a thread of this process, reached over HTTP like AWS."""

    access_key = "picdrop-test"
    secret_key = "picdrop-test-secret"
    region = "us-east-1"

    def __init__(self) -> None:
        try:
            from moto.server import ThreadedMotoServer
        except ImportError:
            raise Unavailable("moto[server] (an S3 protocol server)") from None
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.endpoint_url = ""

    def start(self) -> S3Server:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per request otherwise
        with contextlib.redirect_stdout(None):  # it prints a banner
            self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        return self

    def stop(self) -> None:
        self._server.stop()

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
        )

    def env(self) -> dict[str, str]:
        """The PICDROP_* settings that point a server at this endpoint."""
        return {
            "PICDROP_S3_ENDPOINT_URL": self.endpoint_url,
            "PICDROP_S3_REGION": self.region,
            "PICDROP_S3_ACCESS_KEY_ID": self.access_key,
            "PICDROP_S3_SECRET_ACCESS_KEY": self.secret_key,
        }

    def store_options(self) -> dict[str, str]:
        return {
            "endpoint_url": self.endpoint_url,
            "region": self.region,
            "access_key_id": self.access_key,
            "secret_access_key": self.secret_key,
        }

    def create_bucket(self) -> str:
        name = "picdrop-" + uuid.uuid4().hex[:12]
        self.client().create_bucket(Bucket=name)
        return name

    def delete_bucket(self, name: str) -> None:
        client = self.client()
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
            for item in page.get("Contents", ()):
                client.delete_object(Bucket=name, Key=item["Key"])
        for upload in client.list_multipart_uploads(Bucket=name).get("Uploads", ()):
            client.abort_multipart_upload(
                Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"]
            )
        client.delete_bucket(Bucket=name)


class S3Process(S3Server):
    """moto's S3 server as a process of its own, for tests that stop or freeze (SIGSTOP) it. It
    keeps its objects in memory: a restart loses them (`start_server` makes the bucket again)."""

    def __init__(self) -> None:
        try:
            import moto.server  # noqa: F401
        except ImportError:
            raise Unavailable("moto[server] (an S3 protocol server)") from None
        self.endpoint_url = ""
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self.buckets: list[str] = []

    def start(self) -> S3Process:
        self.port = self.port or free_port()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: port_open(self.port), 30, "moto server")
        for name in self.buckets:
            self.client().create_bucket(Bucket=name)
        return self

    def create_bucket(self) -> str:
        self.buckets.append(super().create_bucket())
        return self.buckets[-1]

    def stop(self) -> None:
        if self.proc is not None:
            _terminate(self.proc)
            self.proc = None


# ---------------------------------------------------------------------------------------------
class Redis:
    def __init__(self) -> None:
        self.program = shutil.which("redis-server")
        if self.program is None:
            raise Unavailable("the program 'redis-server'")
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self.dir: Path | None = None

    def start(self) -> Redis:
        self.dir = self.dir or _shared_tempdir("picdrop-redis-")
        self.port = self.port or free_port()  # a restart keeps its port
        log = self.dir / "redis.log"
        self.proc = subprocess.Popen(
            [self.program, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.dir), "--logfile", str(log)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_until(self.ping, 10, "redis-server", log)
        return self

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def ping(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")

    def stop_server(self) -> None:
        """Stops redis-server (its data is lost: no persistence); `start()` starts it again."""
        if self.proc is not None:
            _terminate(self.proc)
            self.proc = None

    def flush(self) -> None:
        with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
            s.sendall(b"FLUSHALL\r\n")
            s.recv(16)

    def stop(self) -> None:
        if self.proc is not None:
            _terminate(self.proc)
            self.proc = None
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
def render_nginx_site(
    *,
    listen_port: int,
    upstreams: list[str],
    cache_dir: Path,
    blobs_dir: Path | None = None,
    max_body: str | None = None,
    cache_valid: str | None = None,
    min_free: str | None = None,
    source: Path = DEPLOY / "nginx" / "picdrop.conf",
) -> str:
    """The site config from deploy/, with its ports and paths replaced for a test run.

    Each replacement must match exactly where deploy/ says it is, so a config that changes shape
    fails the test instead of being silently tested half-templated.
    """
    text = source.read_text()

    def sub(pattern: str, replacement: str, count: int = 1) -> None:
        nonlocal text
        text, n = re.subn(pattern, lambda _m: replacement, text, flags=re.M)
        if n != count:
            raise AssertionError(f"{source}: expected {count} match(es) of {pattern!r}, got {n}")

    options = re.search(r"^    server 127\.0\.0\.1:80\d\d ([^\n]*);$", text, flags=re.M)
    assert options, f"{source}: no upstream server line"
    servers = "".join(f"    server {u} {options.group(1)};\n" for u in upstreams)
    sub(r"(?:^    server 127\.0\.0\.1:80\d\d [^\n]*;\n)+", servers)
    sub(r"^    listen 80( default_server)?;$", f"    listen 127.0.0.1:{listen_port};")
    sub(r"proxy_cache_path /var/cache/nginx/picdrop ", f"proxy_cache_path {cache_dir} ")
    sub(r"alias /var/lib/picdrop/blobs/;", f"alias {blobs_dir or '/nonexistent'}/;")
    if max_body is not None:
        sub(r"client_max_body_size \S+;", f"client_max_body_size {max_body};")
    if cache_valid is not None:
        sub(r"proxy_cache_valid 200 \S+;", f"proxy_cache_valid 200 {cache_valid};")
    if min_free is not None:
        sub(r" min_free=\S+ ", f" min_free={min_free} ")
    return text


class Nginx:
    """nginx in the foreground with a prefix dir of its own, serving one site config."""

    def __init__(self, site_conf: str, *, access_log: bool = True) -> None:
        self.access_log = access_log
        self.program = shutil.which("nginx") or (
            "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
        )
        if self.program is None:
            raise Unavailable("the program 'nginx'")
        self.site_conf = site_conf
        self.dir: Path | None = None
        self.proc: subprocess.Popen | None = None
        self.port = 0

    def start(self) -> Nginx:
        match = re.search(r"listen 127\.0\.0\.1:(\d+);", self.site_conf)
        assert match, "the site config must listen on 127.0.0.1:PORT"
        self.port = int(match.group(1))
        self.dir = self.dir or _shared_tempdir("picdrop-nginx-")
        d = self.dir
        (d / "site.conf").write_text(self.site_conf)
        mime = "include /etc/nginx/mime.types;" if Path("/etc/nginx/mime.types").exists() else ""
        # Workers run unprivileged unless told otherwise; as root, keep them root so that the
        # test's temp dirs (and data dirs for X-Accel-Redirect) are readable.
        user = "user root;" if os.geteuid() == 0 else ""
        (d / "nginx.conf").write_text(
            f"""{user}
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    {mime}
    default_type application/octet-stream;
    access_log {f"{d}/access.log" if self.access_log else "off"};
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy_temp;
    fastcgi_temp_path {d}/fastcgi_temp;
    uwsgi_temp_path {d}/uwsgi_temp;
    scgi_temp_path {d}/scgi_temp;
    include {d}/site.conf;
}}
"""
        )
        cmd = [self.program, "-p", str(d), "-c", str(d / "nginx.conf")]
        check = subprocess.run([*cmd, "-t"], capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"nginx -t failed:\n{check.stderr}\n--- site:\n{self.site_conf}")
        self.proc = subprocess.Popen(
            [*cmd, "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_until(lambda: port_open(self.port), 10, "nginx", d / "error.log")
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def error_log(self) -> str:
        path = self.dir / "error.log" if self.dir else None
        return path.read_text(errors="replace") if path and path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None:
            _terminate(self.proc)
            self.proc = None
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None


# ---------------------------------------------------------------------------------------------
class ServerProcess:
    """`python -m backend serve` as its own process (a replica), logging to a file; `command`
    runs another installation's server instead (e.g. a venv's `picdrop-server serve`)."""

    def __init__(
        self,
        env: Mapping[str, str],
        workdir: Path,
        name: str = "server",
        command: Sequence[str] = (),
    ) -> None:
        self.env = dict(env)
        self.command = list(command)
        self.workdir = workdir
        self.name = name
        self.log_path = workdir / f"{name}.log"
        self.proc: subprocess.Popen | None = None
        self.url = ""

    def start(self, timeout: float = 60) -> ServerProcess:
        """Starts the process; `wait()` returns once it answers /healthz."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PICDROP_")}
        env.update({"PICDROP_HOST": "127.0.0.1", "PICDROP_PORT": "0"})
        env.setdefault("PICDROP_DATA_DIR", str(self.data_dir))
        env.update(self.env)
        env["PYTHONUNBUFFERED"] = "1"
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.command or [sys.executable, "-m", "backend", "serve"],
                cwd=self.workdir if self.command else REPO,  # another installation: not our source
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._timeout = timeout
        return self

    def wait(self) -> ServerProcess:
        def listening() -> bool:
            if self.proc is None or self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.log()}")
            found = re.findall(r"listening on (http://[^\s\"]+)", self.log())
            if not found:
                return False
            self.url = found[-1]  # the newest start, when a data dir's log is reused
            return requests.get(f"{self.url}/healthz", timeout=2).status_code == 200

        deadline = time.monotonic() + self._timeout
        while time.monotonic() < deadline:
            try:
                if listening():
                    return self
            except RuntimeError:
                raise
            except Exception:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"{self.name} did not answer /healthz:\n{self.log()}")

    @property
    def data_dir(self) -> Path:
        return Path(self.env.get("PICDROP_DATA_DIR", self.workdir / f"{self.name}-data"))

    @property
    def address(self) -> str:
        return self.url.removeprefix("http://")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL to every process of the server (its own session): no shutdown, no flushing,
        like a crash of the machine or an OOM kill."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def started(self, count: int, starts: int = 0) -> list[psutil.Process]:
        """The server's `count` worker processes, once `starts` (default: `count`) of them have
        finished starting (a restarted worker counts again)."""
        wait_until(
            lambda: (
                self.log().count("Application startup complete") >= (starts or count)
                and len(self.workers()) == count
            ),
            60,
            f"{count} server processes",
            self.log_path,
        )
        return self.workers()

    def workers(self) -> list[psutil.Process]:
        """The processes serving requests under `serve --processes N` (the supervisor's
        children), or the server itself when it is one process."""
        if self.proc is None:
            return []
        main = psutil.Process(self.proc.pid)
        # Spawned workers run spawn_main; the resource tracker beside them is not one.
        children = [c for c in main.children() if "spawn_main" in " ".join(c.cmdline())]
        return children or [main]

    def stop(self) -> None:
        if self.proc is not None:
            _terminate(self.proc)
            self.proc = None


def _terminate(proc: subprocess.Popen, timeout: float = 10) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)
