"""Faults against the running server: load, SIGKILL mid-upload and mid-delete, a full disk, a
read-only blob directory, clients that hang up or crawl. None of them may cost an acknowledged
upload, leave a row without its blob, or stop the server from serving everyone else. Each runs
against one server process and against `serve --processes 2` (the `processes` fixture)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import random
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields, replace
from pathlib import Path
from unittest.mock import ANY

import pytest
import requests

from backend import cli
from backend.server import EmbeddedServer
from backend.settings import Settings
from tests.backend import imagesamples as samples
from tests.backend.conftest import Client, read_response
from tests.backend.test_hostile import Target
from tests.conftest import GENEROUS_LIMITS, require
from tests.services import ServerProcess


# -- the server: one process in this one, or `serve --processes 2` --------------------------------
# Two processes take longer to start: twenty restarts need more than the default timeout.
@pytest.fixture(
    params=[1, pytest.param(2, marks=pytest.mark.timeout(900))], ids=["1-process", "2-processes"]
)
def processes(request) -> int:
    return request.param


@dataclass
class Processes:
    """`serve --processes N` as the tests see an EmbeddedServer: its url and its settings."""

    process: ServerProcess
    settings: Settings

    @property
    def url(self) -> str:
        return self.process.url

    def stop(self) -> None:
        self.process.stop()


@pytest.fixture
def start_server(processes, server_process):
    """Factory: a running server for `settings`, on a thread of this process (1) or as
    `serve --processes N` once all its processes have started."""
    defaults = Settings()
    embedded: list[EmbeddedServer] = []

    def start(settings: Settings) -> EmbeddedServer | Processes:
        if processes == 1:
            server = EmbeddedServer(settings)
            server.start()
            embedded.append(server)
            return server
        given = {
            f.name: getattr(settings, f.name)
            for f in fields(Settings)
            if f.name not in ("data_dir", "host", "port")
            and getattr(settings, f.name) != getattr(defaults, f.name)
        }
        process = server_process(settings.data_dir, processes=processes, **given)
        process.started(processes)
        port = int(process.url.rsplit(":", 1)[1])
        return Processes(process, replace(settings, port=port, processes=processes))

    yield start
    for server in embedded:
        server.stop()


@pytest.fixture
def client(start_server, server_settings) -> Client:
    with requests.Session() as session:
        yield Client(start_server(server_settings), session)


# -- consistency of a data directory --------------------------------------------------------------
def check_consistent(data_dir: Path, *, orphans_allowed: bool = False) -> list[dict]:
    """Integrity check passes; every live row's blob exists with the right SHA-256; refcounts
    match the rows; (unless allowed) no blob without a row and no temporary file."""
    with sqlite3.connect(data_dir / "picdrop.db") as conn:
        conn.row_factory = sqlite3.Row
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = [dict(r) for r in conn.execute("SELECT * FROM images")]
        refcounts = {r["key"]: r["refcount"] for r in conn.execute("SELECT * FROM blobs")}
    live = [r for r in rows if r["removed_at"] is None]
    blobs = data_dir / "blobs"
    for row in live:
        data = (blobs / row["blob_key"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == row["sha256"], row["id"]
    assert refcounts == dict(Counter(r["blob_key"] for r in live))
    if not orphans_allowed:
        files = {
            p.relative_to(blobs).as_posix()
            for p in blobs.rglob("*")
            if p.is_file() and not p.as_posix().count("/thumbs/")
        }
        assert files == set(refcounts), files ^ set(refcounts)
        assert not [p for p in blobs.rglob(".tmp-*")]
    return rows


# -- load -----------------------------------------------------------------------------------------
def test_200_concurrent_uploads_mixed_identical_and_different(client, caplog):
    caplog.set_level(logging.WARNING)
    distinct = [samples.unique_jpeg(seed=5000 + i, size=(320, 240)) for i in range(160)]
    popular = [samples.unique_jpeg(seed=9000 + i, size=(320, 240)) for i in range(4)]
    files = distinct + [popular[i % 4] for i in range(40)]
    random.Random(6).shuffle(files)

    def send(data: bytes) -> tuple[int, dict]:
        with requests.Session() as s:
            r = s.post(f"{client.url}/api/upload", files={"file": ("x.jpg", data)}, timeout=120)
            return r.status_code, r.json()

    with ThreadPoolExecutor(max_workers=40) as pool:
        results = list(pool.map(send, files))

    assert [status for status, _ in results] == [201] * 200, [b for s, b in results if s != 201]
    assert len({body["id"] for _, body in results}) == 200
    for data, (_, body) in zip(files, results, strict=True):
        assert body["sha256"] == hashlib.sha256(data).hexdigest() or body["size"] <= len(data)
    rows = check_consistent(client.server.settings.data_dir)
    assert len(rows) == 200
    assert len({r["blob_key"] for r in rows}) == 164  # identical files share one blob
    assert not [r for r in caplog.records if "locked" in r.getMessage() or "busy" in r.getMessage()]
    for _, body in results[:20]:
        assert client.get(f"/{body['id']}.jpg").status_code == 200


# -- SIGKILL --------------------------------------------------------------------------------------
# Rounds of kill-and-restart: two processes take about three times as long to start, and the
# second process adds the same kinds of kill points, not new ones, so fewer rounds of it.
KILL_ROUNDS = {1: 20, 2: 8}


@pytest.mark.slow
def test_sigkill_during_50_uploads_20_times(server_process, processes, tmp_path):
    data_dir = tmp_path / "data"
    rng = random.Random(20)
    acknowledged: dict[str, str] = {}  # id -> sha256 of every upload that got a 201
    outcomes = Counter()
    pictures = [samples.unique_jpeg(seed=20000 + i, size=(480, 360)) for i in range(200)]
    for round_ in range(KILL_ROUNDS[processes]):
        server = server_process(data_dir, processes=processes)
        url = server.url
        batch = [pictures[(round_ * 50 + i) % 200] for i in range(50)]
        start = threading.Barrier(51)
        # The kill comes after a drawn number of answers, not after a drawn time: a faster server
        # must not answer all fifty before a timed kill lands (0 answers: right after the start).
        kill_after = rng.randint(0, 40)
        answered = threading.Semaphore(0)

        def send(data: bytes, url=url, start=start, answered=answered) -> None:
            start.wait()
            try:
                r = requests.post(f"{url}/api/upload", files={"file": ("x.jpg", data)}, timeout=60)
            except requests.RequestException:
                outcomes["cut off"] += 1
                return
            finally:
                answered.release()
            outcomes[r.status_code] += 1
            if r.status_code == 201:
                acknowledged[r.json()["id"]] = r.json()["sha256"]

        threads = [threading.Thread(target=send, args=(d,)) for d in batch]
        for t in threads:
            t.start()
        start.wait()
        for _ in range(kill_after):
            assert answered.acquire(timeout=60), "the server stopped answering before the kill"
        server.kill()  # SIGKILL: no shutdown, no cleanup
        for t in threads:
            t.join(60)
    print(f"\n{KILL_ROUNDS[processes]} kills during 50 uploads each: {dict(outcomes)}")
    assert outcomes["cut off"] > 0 and outcomes[201] > 0  # the kills did land mid-flight
    assert set(outcomes) <= {201, "cut off"}

    # Restarted: consistent, and every acknowledged upload is there.
    check_consistent(data_dir, orphans_allowed=True)
    server = server_process(data_dir, processes=processes)
    with requests.Session() as s:
        for image_id, sha in acknowledged.items():
            r = s.get(f"{server.url}/{image_id}.jpg")
            assert r.status_code == 200, image_id
            assert hashlib.sha256(r.content).hexdigest() == sha
    server.stop()
    # Orphans (blobs written by uploads killed before their row) are swept.
    swept = subprocess.run(
        [
            sys.executable,
            "-m",
            "backend",
            "-q",
            "sweep",
            "--grace",
            "0",
            "--data-dir",
            str(data_dir),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    print(swept.stdout.strip())
    rows = check_consistent(data_dir)
    assert {r["id"] for r in rows} >= set(acknowledged)


def run_check(data_dir: Path, capsys, *args: str) -> tuple[int, dict]:
    """`picdrop-server check --json` on a data directory: its exit status and its report."""
    capsys.readouterr()
    status = cli.main(["-q", "check", "--json", *args, "--data-dir", str(data_dir)])
    return status, json.loads(capsys.readouterr().out)


class Ledger:
    """What the clients were told: 201s not deleted must be served byte-for-byte, 204s never."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.kept: dict[str, str] = {}  # id -> sha256 of the stored bytes
        self.unsure: dict[str, str] = {}  # a delete was sent, its answer cut off: either is fine
        self.deleted: set[str] = set()
        self.verified: set[str] = set()
        self.outcomes: Counter = Counter()

    def verify(self, url: str, *, everything: bool) -> None:
        """Fetch the uploads not verified before (each round: `check` vouches for the rest
        having their blobs), or every one of them."""
        with requests.Session() as s:
            for image_id, sha in [*self.kept.items(), *self.unsure.items()]:
                if image_id in self.verified and not everything:
                    continue
                r = s.get(f"{url}/{image_id}.jpg", timeout=30)
                if image_id in self.unsure and r.status_code == 404:
                    continue
                assert r.status_code == 200, image_id
                assert hashlib.sha256(r.content).hexdigest() == sha, image_id
                self.verified.add(image_id)
            for image_id in self.deleted - self.verified:
                assert s.get(f"{url}/api/images/{image_id}", timeout=30).status_code == 404
                self.verified.add(image_id)


def upload_and_delete(url: str, pictures: list[bytes], ledger: Ledger, seed: int, stop) -> None:
    """One client: uploads one of a few pictures (every client shares them), often views its
    thumbnail, and deletes most of its uploads at once, until the server dies under it."""
    rng = random.Random(seed)
    with requests.Session() as s:
        while not stop.is_set():
            try:
                r = s.post(f"{url}/api/upload", files={"file": ("a.jpg", rng.choice(pictures))})
                ledger.outcomes[f"upload {r.status_code}"] += 1
                if r.status_code != 201:
                    continue
                image = r.json()
                if rng.random() < 0.3:
                    s.get(f"{url}/t/{image['id']}.webp")
                if rng.random() < 0.25:
                    with ledger.lock:
                        ledger.kept[image["id"]] = image["sha256"]
                    continue
                with ledger.lock:
                    ledger.unsure[image["id"]] = image["sha256"]
                d = s.delete(
                    f"{url}/api/images/{image['id']}",
                    headers={"Authorization": f"Bearer {image['delete_token']}"},
                )
                ledger.outcomes[f"delete {d.status_code}"] += 1
                if d.status_code == 204:
                    with ledger.lock:
                        del ledger.unsure[image["id"]]
                        ledger.deleted.add(image["id"])
            except requests.RequestException:
                ledger.outcomes["cut off"] += 1
                return


@pytest.mark.slow
def test_sigkill_during_deletes_and_uploads_of_the_same_bytes_20_times(
    server_process, processes, tmp_path, capsys
):
    """Twelve clients upload and delete the same four pictures; the server is killed at a random
    moment, 20 times (8 with two processes). After each kill `picdrop-server check` finds no row
    without its blob and no blob without its rows (orphans a crash leaves, within the grace, are
    no problem), and after each restart every upload that got a 201 and no 204 is served
    byte-for-byte."""
    data_dir = tmp_path / "data"
    pictures = [samples.unique_jpeg(seed=21000 + i, size=(96, 64)) for i in range(4)]
    ledger = Ledger()
    rng = random.Random(21)
    for _ in range(KILL_ROUNDS[processes]):
        server = server_process(data_dir, processes=processes)
        ledger.verify(server.url, everything=False)
        stop = threading.Event()
        clients = [
            threading.Thread(
                target=upload_and_delete, args=(server.url, pictures, ledger, rng.random(), stop)
            )
            for _ in range(12)
        ]
        for t in clients:
            t.start()
        time.sleep(rng.uniform(0.1, 0.6))
        server.kill()  # SIGKILL: no shutdown, no cleanup
        stop.set()
        for t in clients:
            t.join(60)

        # Grace 0: even the youngest unused blob is reported; crash residue is all there may be.
        status, report = run_check(data_dir, capsys, "--grace", "0")
        assert {f["kind"] for f in report["findings"]} <= {"orphan_blob", "orphan_thumbnail"}
        assert status == (1 if report["findings"] else 0)
    kills = KILL_ROUNDS[processes]
    print(f"\n{kills} kills during uploads and deletes of the same bytes: {dict(ledger.outcomes)}")
    assert ledger.outcomes["cut off"] > 0 and ledger.outcomes["delete 204"] > 0
    assert {k for k in ledger.outcomes if k != "cut off"} <= {"upload 201", "delete 204"}

    server = server_process(data_dir, processes=processes)
    ledger.verify(server.url, everything=True)
    server.stop()
    assert run_check(data_dir, capsys)[0] == 0  # orphans within the grace are no problem
    assert run_check(data_dir, capsys, "--grace", "0", "--repair")[0] == 0
    assert run_check(data_dir, capsys, "--grace", "0") == (0, ANY)
    check_consistent(data_dir)


# -- full filesystem ------------------------------------------------------------------------------
@pytest.fixture
def small_disk(tmp_path: Path):
    mountpoint = tmp_path / "small"
    mountpoint.mkdir()
    can_mount = os.geteuid() == 0 and Path("/bin/mount").exists()
    if can_mount:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mountpoint)],
            capture_output=True,
        )
        can_mount = done.returncode == 0
    require(can_mount, "root and a mountable tmpfs (for the full-filesystem test)")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)


def fill(path: Path) -> Path:
    """A file that takes every byte left on the filesystem."""
    filler = path / "filler"
    with filler.open("wb", buffering=0) as f:
        for size in (65536, 512, 1):
            with contextlib.suppress(OSError):
                while f.write(b"\0" * size):
                    pass
    return filler


def test_full_filesystem(small_disk, start_server, caplog):
    data_dir = small_disk / "data"
    settings = Settings(
        data_dir=data_dir, host="127.0.0.1", port=0, sweep_interval=0, **GENEROUS_LIMITS
    )
    server = start_server(settings)
    s = requests.Session()
    url = server.url
    started = time.monotonic()
    try:
        stored = []
        for seed in range(60):  # ~150 KB each into 4 MB: full long before the end
            data = samples.encode(samples.photo((480, 360), seed=seed), quality=95)
            r = s.post(f"{url}/api/upload", files={"file": ("p.jpg", data)})
            if r.status_code == 507:
                break
            assert r.status_code == 201, r.text
            stored.append(r.json())
        else:
            pytest.fail("the 4 MB disk never filled up")
        assert r.json()["code"] == "storage_full"
        assert "no room left" in r.json()["error"]
        assert int(r.headers["Retry-After"]) > 0
        assert len(stored) >= 3
        check_consistent(data_dir)  # nothing partial: no temp file, no orphan blob

        # Fill the last bytes too, so that the catalog itself (SQLite) cannot grow.
        filler = fill(small_disk)
        statuses = Counter()
        for _ in range(300):
            r = s.post(f"{url}/api/upload", files={"file": ("p.jpg", samples.unique_jpeg())})
            statuses[r.status_code] += 1
            again = s.post(
                f"{url}/api/upload",
                files={"file": ("p.jpg", s.get(f"{url}/{stored[0]['id']}.jpg").content)},
            )  # same bytes: no blob to write, only a row
            statuses[again.status_code] += 1
            if again.status_code == 507:
                break
        assert again.status_code == 507 and again.json()["code"] == "storage_full", statuses
        assert int(again.headers["Retry-After"]) > 0
        assert set(statuses) <= {201, 507}, statuses
        check_consistent(data_dir)

        # Reads keep working: images, thumbnails (made but not kept), pages, metadata.
        for image in stored:
            assert s.get(f"{url}/{image['id']}.jpg").status_code == 200
            assert s.get(f"{url}/t/{image['id']}.webp").status_code == 200
            assert s.get(f"{url}/api/images/{image['id']}").status_code == 200
        assert s.get(f"{url}/{stored[0]['id']}", headers={"Accept": "text/html"}).status_code == 200

        # Space freed: uploads work again.
        filler.unlink()
        for image in stored[:3]:
            d = s.delete(
                f"{url}/api/images/{image['id']}",
                headers={"Authorization": f"Bearer {image['delete_token']}"},
            )
            assert d.status_code == 204
        data = samples.encode(samples.photo((480, 360), seed=999), quality=95)
        r = s.post(f"{url}/api/upload", files={"file": ("p.jpg", data)})
        assert r.status_code == 201, r.text
        assert s.get(f"{url}/{r.json()['id']}.jpg").status_code == 200
        check_consistent(data_dir)
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR and "500" in str(r)]
        if isinstance(server, EmbeddedServer):  # its log is this process's
            full = [r for r in caplog.records if r.getMessage().startswith("storage space")]
            assert 1 <= len(full) <= time.monotonic() - started + 1  # a line a second at most
    finally:
        s.close()
        server.stop()


def test_deletes_work_on_a_full_disk_and_free_space(small_disk, start_server):
    """Deleting is how space comes back, so a full disk must not refuse it. The delete commits
    before its blob is removed, and the commit needs room in SQLite's WAL: the catalog's reserve
    gives it that room. Even the delete of a shared blob, which frees nothing, goes through."""
    data_dir = small_disk / "data"
    settings = Settings(
        data_dir=data_dir, host="127.0.0.1", port=0, sweep_interval=0, **GENEROUS_LIMITS
    )
    server = start_server(settings)
    s = requests.Session()
    try:
        shared = samples.encode(samples.photo((480, 360), seed=1), quality=95)
        photos = [shared, shared] + [
            samples.encode(samples.photo((480, 360), seed=seed), quality=95) for seed in (2, 3)
        ]
        images = [s.post(f"{server.url}/api/upload", files={"file": ("p.jpg", d)}) for d in photos]
        assert [r.status_code for r in images] == [201] * 4
        a, b, c, d = (r.json() for r in images)
        with contextlib.closing(sqlite3.connect(data_dir / "picdrop.db")) as conn:
            # An empty WAL, as after a restart: the next commit must grow it.
            assert conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone() == (0, 0, 0)
        filler = fill(small_disk)

        for image in (a, c):  # a shares its blob with b (frees nothing); c frees its blob
            r = s.delete(
                f"{server.url}/api/images/{image['id']}",
                headers={"Authorization": f"Bearer {image['delete_token']}"},
            )
            assert r.status_code == 204, r.text
            assert s.get(f"{server.url}/{image['id']}.jpg").status_code == 404
        for image in (b, d):
            r = s.get(f"{server.url}/{image['id']}.jpg")
            assert hashlib.sha256(r.content).hexdigest() == image["sha256"]
        filler.unlink()
        r = s.post(f"{server.url}/api/upload", files={"file": ("p.jpg", samples.unique_jpeg())})
        assert r.status_code == 201, r.text
        check_consistent(data_dir)
    finally:
        s.close()
        server.stop()


# -- a read-only blob directory -------------------------------------------------------------------
@pytest.fixture
def read_only(tmp_path: Path):
    """Factory: makes a directory really read-only, by a read-only bind mount over itself (a
    chmod would not stop root, and the tests run as root); undone at the end."""
    mounted: list[Path] = []

    def make(path: Path) -> None:
        for args in (["--bind", str(path), str(path)], ["-o", "remount,bind,ro", str(path)]):
            done = subprocess.run(["mount", *args], capture_output=True)
            if done.returncode == 0 and args[0] == "--bind":
                mounted.append(path)
            require(done.returncode == 0, "root and bind mounts (for the read-only disk test)")

    yield make
    for path in mounted:
        subprocess.run(["umount", "-l", str(path)], check=False)


def test_read_only_blob_directory_answers_503_and_keeps_serving(client, read_only, capsys):
    kept = client.upload(samples.unique_jpeg(seed=1)).json()
    assert client.get(f"/t/{kept['id']}.webp").status_code == 200
    other = client.upload(samples.unique_jpeg(seed=2)).json()
    blobs = client.server.settings.data_dir / "blobs"
    read_only(blobs)
    with pytest.raises(OSError):
        (blobs / "probe").write_bytes(b"x")

    refused = [
        client.upload(samples.unique_jpeg(seed=3)),  # new bytes: nowhere to write them
        client.get(f"/t/{other['id']}.webp"),  # a first thumbnail: nowhere to keep it
    ]
    for r in refused:
        assert r.status_code == 503, r.text
        assert r.json()["code"] == "storage_unavailable"
        assert int(r.headers["retry-after"]) > 0
    # Serving goes on (images, kept thumbnails), and bytes already stored can be shared.
    for path in (f"/{kept['id']}.jpg", f"/t/{kept['id']}.webp", f"/{other['id']}.jpg"):
        assert client.get(path).status_code == 200, path
    assert client.upload(samples.unique_jpeg(seed=1)).status_code == 201
    # A delete goes through: the row goes now, the file stays as an orphan until it can go.
    r = client.session.delete(
        f"{client.url}/api/images/{other['id']}",
        headers={"Authorization": f"Bearer {other['delete_token']}"},
    )
    assert r.status_code == 204
    assert client.get(f"/{other['id']}.jpg").status_code == 404

    subprocess.run(["umount", str(blobs)], check=True)
    status, report = run_check(blobs.parent, capsys, "--repair", "--grace", "0")
    assert status == 0 and [f["kind"] for f in report["findings"]] == ["orphan_blob"]
    assert client.upload(samples.unique_jpeg(seed=3)).status_code == 201
    check_consistent(blobs.parent)


# -- clients that hang up or crawl ----------------------------------------------------------------
@pytest.fixture
def settings_overrides():
    return {"read_timeout": 2, "max_bytes": 4 * 1024 * 1024}


def test_client_disconnecting_mid_body(client):
    target = Target(client)
    jpeg = samples.encode(samples.photo((1600, 1200)), quality=95)  # ~1 MB: spills to disk
    for how in ("close", "reset"):
        for content_type in ("image/jpeg", "multipart/form-data; boundary=XyZ"):
            prefix = b"--XyZ\r\nContent-Disposition: form-data; name=file; filename=a.jpg\r\n\r\n"
            body = jpeg if content_type == "image/jpeg" else prefix + jpeg
            sock = socket.create_connection(client.address(), timeout=10)
            sock.sendall(
                f"POST /api/upload HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body) + 100}\r\n\r\n".encode()
                + body[: len(body) * 3 // 4]
            )
            time.sleep(0.2)
            if how == "reset":  # RST instead of FIN
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00" * 2)
            sock.close()
            target.assert_untouched()


def test_slow_clients_do_not_block_others(client):
    """60 crawling connections (headers a byte at a time, or bodies that stall): bounded to a
    few seconds; meanwhile a normal client uploads and downloads at full speed."""
    target = Target(client)
    host, port = client.address()
    crawlers: list[socket.socket] = []
    stop = threading.Event()
    answers: list[bytes] = []

    def crawl_headers() -> None:
        sock = socket.create_connection((host, port), timeout=10)
        crawlers.append(sock)
        request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"a" * 1000
        for byte in request:
            if stop.is_set():
                return
            with contextlib.suppress(OSError):
                sock.send(bytes([byte]))
            time.sleep(0.1)

    def crawl_body() -> None:
        sock = socket.create_connection((host, port), timeout=15)
        crawlers.append(sock)
        sock.sendall(
            b"POST /api/upload HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
            b"Content-Length: 100000\r\n\r\n\xff\xd8\xff"
        )
        answers.append(read_response(sock))  # the server gives up on it (408)

    threads = [threading.Thread(target=crawl_headers) for _ in range(50)]
    threads += [threading.Thread(target=crawl_body) for _ in range(10)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    try:
        with requests.Session() as s:
            for _ in range(5):
                start = time.monotonic()
                r = s.post(
                    f"{client.url}/api/upload", files={"file": ("a.jpg", samples.unique_jpeg())}
                )
                assert r.status_code == 201
                assert s.get(f"{client.url}/{r.json()['id']}.jpg").status_code == 200
                assert time.monotonic() - start < 2.0
    finally:
        time.sleep(2.5)  # past the read timeout of the stalled bodies
        stop.set()
        for t in threads:
            t.join(15)
        for sock in crawlers:
            sock.close()
    assert len(answers) == 10
    assert all(a.startswith(b"HTTP/1.1 408 ") for a in answers), answers
    # Only the five normal uploads were stored.
    assert len(client.rows()) == len(target.before.rows) + 5
