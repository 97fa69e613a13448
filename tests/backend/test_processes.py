"""`picdrop-server serve --processes N`: several processes on one socket share the catalog, the
blobs, the limits and the upload memory. To send a request to one process in particular, the
others are stopped (SIGSTOP) for a moment: the kernel then hands every new connection to the one
left running."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import anyio
import psutil
import pytest
import requests

from backend.http.budget import SharedByteBudget
from backend.outages import OutageLog
from tests.backend import imagesamples as samples
from tests.backend.test_faults import Ledger, check_consistent, upload_and_delete
from tests.services import wait_until


@contextlib.contextmanager
def only(worker: psutil.Process, workers: list[psutil.Process]) -> Iterator[None]:
    """Every new connection goes to `worker` meanwhile. (Briefly: the supervisor replaces a
    worker that does not answer its health check for 5 s.)"""
    others = [w for w in workers if w.pid != worker.pid]
    for other in others:
        other.send_signal(signal.SIGSTOP)
    try:
        yield
    finally:
        for other in others:
            other.send_signal(signal.SIGCONT)


def upload(url: str, data: bytes) -> requests.Response:
    return requests.post(f"{url}/api/upload", files={"file": ("a.jpg", data)}, timeout=30)


def delete(url: str, image: dict) -> requests.Response:
    return requests.delete(
        f"{url}/api/images/{image['id']}",
        headers={"Authorization": f"Bearer {image['delete_token']}"},
        timeout=30,
    )


def test_uploads_and_deletes_through_both_processes(server_process, tmp_path):
    server = server_process(tmp_path / "data", processes=2)
    first, second = server.started(2)
    url = server.url
    shared = samples.unique_jpeg(seed=1, size=(96, 64))
    pictures = [shared, shared, samples.unique_jpeg(seed=2), samples.unique_jpeg(seed=3)]

    with only(first, [first, second]):
        images = [upload(url, data) for data in pictures]
    assert [r.status_code for r in images] == [201] * 4
    images = [r.json() for r in images]
    with only(second, [first, second]):
        for image in images:  # what one process stored, the other serves
            r = requests.get(f"{url}/{image['id']}.jpg", timeout=30)
            assert hashlib.sha256(r.content).hexdigest() == image["sha256"]
        assert [delete(url, image).status_code for image in images[::2]] == [204, 204]
    with only(first, [first, second]):  # and what one deleted, the other no longer serves
        assert [requests.get(f"{url}/{i['id']}.jpg").status_code for i in images] == [
            404,
            200,
            404,
            200,
        ]

    # Both at once: clients upload and delete the same few pictures through either process.
    ledger = Ledger()
    stop = threading.Event()
    clients = [
        threading.Thread(target=upload_and_delete, args=(url, pictures, ledger, seed, stop))
        for seed in range(12)
    ]
    for t in clients:
        t.start()
    wait_until(lambda: ledger.outcomes["delete 204"] >= 60, 120, "60 deletes")
    stop.set()
    for t in clients:
        t.join(60)
    assert set(ledger.outcomes) == {"upload 201", "delete 204"}, ledger.outcomes
    ledger.verify(url, everything=True)
    server.stop()
    check_consistent(tmp_path / "data")


@pytest.mark.parametrize(
    ("setting", "request_once", "allowed"),
    [
        ("upload_rate", lambda url: upload(url, samples.unique_jpeg()), 201),
        ("notfound_rate", lambda url: requests.get(f"{url}/AAAAAAAAAA.jpg", timeout=30), 404),
    ],
    ids=["uploads", "not-found answers"],
)
@pytest.mark.parametrize("storage", ["this machine", "redis"])
def test_a_client_over_a_limit_is_refused_by_every_process(
    request, server_process, tmp_path, setting, request_once, allowed, storage
):
    """Without Redis the processes share a SQLite file; with Redis configured, Redis."""
    if storage == "redis":
        shared = {"ratelimit_url": request.getfixturevalue("redis_server").url}
    else:
        shared = {}
    server = server_process(tmp_path / "data", processes=2, **{setting: "3/minute"}, **shared)
    first, second = server.started(2)
    with only(first, [first, second]):
        assert [request_once(server.url).status_code for _ in range(3)] == [allowed] * 3
        assert request_once(server.url).status_code == 429
    for worker in (second, first):
        with only(worker, [first, second]):
            refused = request_once(server.url)
            assert refused.status_code == 429, worker
            assert refused.json()["code"] == "rate_limited"
            assert int(refused.headers["retry-after"]) > 0


def test_sigkill_of_one_process_loses_no_acknowledged_upload(server_process, tmp_path):
    data_dir = tmp_path / "data"
    server = server_process(data_dir, processes=2)
    rng = random.Random(20)
    acknowledged: dict[str, str] = {}
    outcomes = Counter()
    pictures = [samples.unique_jpeg(seed=22000 + i, size=(480, 360)) for i in range(60)]

    def send(data: bytes, start: threading.Barrier) -> None:
        start.wait()
        try:
            r = upload(server.url, data)
        except requests.RequestException:
            outcomes["cut off"] += 1
            return
        outcomes[r.status_code] += 1
        if r.status_code == 201:
            acknowledged[r.json()["id"]] = r.json()["sha256"]

    for round_ in range(3):
        workers = server.started(2, starts=2 + round_)
        start = threading.Barrier(21)
        batch = pictures[round_ * 20 : round_ * 20 + 20]
        threads = [threading.Thread(target=send, args=(data, start)) for data in batch]
        for t in threads:
            t.start()
        start.wait()
        wait_until(lambda r=round_: outcomes[201] > r * 5, 60, "some uploads acknowledged")
        victim = rng.choice(workers)
        victim.kill()  # SIGKILL: no shutdown, no cleanup
        for t in threads:
            t.join(60)
        # The supervisor starts a new process in its place; the other never stopped.
        wait_until(lambda v=victim: v.pid not in {w.pid for w in server.workers()}, 30, "restart")
    print(f"\n3 kills of one of two processes during 20 uploads: {dict(outcomes)}")
    assert set(outcomes) <= {201, "cut off"}
    server.started(2, starts=5)
    for image_id, sha in acknowledged.items():
        r = requests.get(f"{server.url}/{image_id}.jpg", timeout=30)
        assert r.status_code == 200, image_id
        assert hashlib.sha256(r.content).hexdigest() == sha
    assert upload(server.url, samples.unique_jpeg()).status_code == 201
    server.stop()
    check_consistent(data_dir, orphans_allowed=True)


# -- the upload memory: one budget for the machine ------------------------------------------------
def hold_budget(path: Path, amount: int, held) -> None:
    """In another process: hold `amount` bytes of the shared budget until killed."""

    async def hold() -> None:
        async with SharedByteBudget(100, path, OutageLog(logging.getLogger())).hold(amount):
            held.set()
            await anyio.sleep_forever()

    anyio.run(hold)


def test_upload_memory_is_one_budget_for_all_processes_and_a_crash_gives_it_back(tmp_path):
    path = tmp_path / "upload-memory"
    spawn = multiprocessing.get_context("spawn")
    held = spawn.Event()
    holder = spawn.Process(target=hold_budget, args=(path, 70, held))
    holder.start()
    budget = SharedByteBudget(100, path, OutageLog(logging.getLogger()))

    async def check() -> None:
        async with budget.hold(30):  # 70 + 30 fits
            pass
        acquired = anyio.Event()

        async def hold_40() -> None:
            async with budget.hold(40):
                acquired.set()

        with anyio.fail_after(60):
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(hold_40)
                while budget.waiting == 0 and not acquired.is_set():
                    await anyio.sleep(0.01)
                assert not acquired.is_set()  # 70 + 40 > 100: the other process's bytes count
                holder.kill()  # SIGKILL while holding: no release
                await acquired.wait()  # the dead process's 70 bytes are free again
        assert budget.waiting == 0

    try:
        assert held.wait(60)
        anyio.run(check)
    finally:
        holder.kill()
        holder.join(30)


def test_the_shared_limits_live_in_ram_and_go_when_the_server_stops(server_process, tmp_path):
    """Client keys (salted hashes) and their counters never reach the data directory or any
    disk: one process keeps them in memory, several in a private tmpfs directory."""
    server = server_process(tmp_path / "data", processes=2, notfound_rate="100/minute")
    workers = server.started(2)
    for worker in workers:
        with only(worker, workers):
            assert requests.get(f"{server.url}/AAAAAAAAAA.jpg", timeout=30).status_code == 404
    files = [Path(f.path) for worker in workers for f in worker.open_files()]
    shared = {path.parent for path in files if path.name == "limits.sqlite3"}
    assert len(shared) == 1
    (directory,) = shared
    assert directory.parent == Path("/dev/shm")
    assert directory.stat().st_mode & 0o777 == 0o700
    leftovers = [p for p in (tmp_path / "data").rglob("*") if p.name.startswith("limits")]
    assert not leftovers
    server.stop()
    assert not directory.exists()


def test_the_supervisor_of_several_processes_loads_no_image_or_database_code(
    server_process, tmp_path
):
    """With `--processes N` the parent only watches its processes (a child of its own migrates
    the catalog first): the image and database libraries (and the app) live in the processes
    that use them, not in the parent too."""
    server = server_process(tmp_path / "data", processes=2)
    workers = server.started(2)

    def loads(process: psutil.Process, package: str) -> bool:
        return any(package in Path(m.path).parts for m in process.memory_maps())

    for package in ("PIL", "sqlalchemy"):  # both have compiled modules: mapped where imported
        assert all(loads(worker, package) for worker in workers)  # the probe sees them
        assert not loads(psutil.Process(server.proc.pid), package)


@pytest.mark.parametrize("processes", [1, 2])
@pytest.mark.parametrize(
    ("storage_url", "why"),
    [
        ("s3://", "not an S3 URL: 's3://'"),
        ("s3://bucket/blobs?colour=blue", "unknown option 'colour'"),
    ],
)
def test_a_storage_url_it_cannot_use_stops_the_server_at_once(
    tmp_path, processes, storage_url, why
):
    result = subprocess.run(
        [sys.executable, "-m", "backend", "serve", "--port", "0", "--data-dir", str(tmp_path)],
        env={**os.environ, "PICDROP_PROCESSES": str(processes), "PICDROP_STORAGE_URL": storage_url},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.startswith(f"picdrop-server: {why}"), result.stderr
    assert "Traceback" not in result.stderr
