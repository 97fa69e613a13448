"""The upload memory shared by the processes of `serve --processes N` (backend/http/budget.py):
its file in RAM, what happens when it is unusable, and holds left by processes that are gone.
The budget across real processes, and a SIGKILL while holding, are in test_processes.py."""

from __future__ import annotations

import fcntl
import logging
import os
import struct
import subprocess
import sys

import anyio
import pytest

from backend.http.budget import SharedByteBudget
from backend.outages import OutageLog

SLOT = struct.Struct("=qqq")  # the file's slot: pid, start time, bytes held


def budget(path, capacity: int = 100) -> SharedByteBudget:
    return SharedByteBudget(capacity, path, OutageLog(logging.getLogger("test-budget")), poll=0.01)


def held_in_file(path) -> int:
    return sum(held for _, _, held in SLOT.iter_unpack(path.read_bytes()))


def test_a_hold_is_counted_in_the_file_while_held_and_given_back(tmp_path):
    path = tmp_path / "upload-memory"
    shared = budget(path)

    async def hold() -> None:
        async with shared.hold(60):
            assert held_in_file(path) == 60
            async with shared.hold(30):
                assert held_in_file(path) == 90
        assert held_in_file(path) == 0

    anyio.run(hold)
    assert path.stat().st_mode & 0o777 == 0o600


def dead_pid() -> int:
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(child.stdout)


@pytest.mark.parametrize(
    "owner",
    [
        pytest.param(lambda: (dead_pid(), 1), id="a process that is gone"),
        # Our own pid with another start time: an earlier process that had this pid.
        pytest.param(lambda: (os.getpid(), 1), id="a reused pid"),
    ],
)
def test_bytes_held_by_a_process_that_is_gone_do_not_count(tmp_path, owner):
    path = tmp_path / "upload-memory"
    path.write_bytes(SLOT.pack(*owner(), 90) + bytes(SLOT.size * (SharedByteBudget.SLOTS - 1)))

    async def hold() -> None:
        with anyio.fail_after(10):
            async with budget(path).hold(30):  # 90 + 30 > 100, but the 90 are nobody's
                pass

    anyio.run(hold)
    assert held_in_file(path) == 0


def test_a_process_that_keeps_the_file_locked_delays_holds_but_not_the_event_loop(tmp_path):
    path = tmp_path / "upload-memory"
    shared = budget(path)

    async def make_the_file() -> None:
        async with shared.hold(1):
            pass

    anyio.run(make_the_file)
    other = os.open(path, os.O_RDWR)  # another process's view of it (its own open file)
    fcntl.flock(other, fcntl.LOCK_EX)  # e.g. stopped (SIGSTOP) while it had the lock

    async def check() -> None:
        acquired = anyio.Event()

        async def hold() -> None:
            async with shared.hold(10):
                acquired.set()

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(hold)
            for _ in range(5):
                await anyio.sleep(0.01)  # the loop runs meanwhile
            assert not acquired.is_set()
            fcntl.flock(other, fcntl.LOCK_UN)
            with anyio.fail_after(10):
                await acquired.wait()

    try:
        anyio.run(check)
    finally:
        os.close(other)


@pytest.mark.parametrize(
    "unusable",
    [
        pytest.param(lambda tmp: tmp / "missing-directory" / "upload-memory", id="cannot be made"),
        pytest.param(lambda tmp: tmp, id="a directory"),
    ],
)
def test_when_the_file_cannot_be_used_the_process_budget_alone_applies(tmp_path, unusable, caplog):
    shared = budget(unusable(tmp_path), capacity=100)

    async def check() -> None:
        with anyio.fail_after(10):
            async with shared.hold(80):
                assert shared.used == 80  # the process's own budget still counts
        assert shared.used == 0

    anyio.run(check)
    assert "shared upload memory unavailable" in caplog.text
