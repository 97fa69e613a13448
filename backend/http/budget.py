"""A byte-weighted semaphore: bounds the memory that image work holds at once.

Many small jobs run side by side; big ones take turns. A job larger than the whole budget is
refused before it gets here (imagework.py), so no job waits forever. With several server
processes, `SharedByteBudget` makes the budget the machine's rather than each process's.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio

from backend.outages import OutageLog


class ByteBudget:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.used = 0
        self._changed = asyncio.Condition()

    @contextlib.asynccontextmanager
    async def hold(self, amount: int) -> AsyncIterator[None]:
        async with self._changed:
            await self._changed.wait_for(
                lambda: self.used == 0 or self.used + amount <= self.capacity
            )
            self.used += amount
        try:
            yield
        finally:
            with anyio.CancelScope(shield=True):  # given back even when the holder is cancelled
                async with self._changed:
                    self.used -= amount
                    self._changed.notify_all()


class SharedByteBudget(ByteBudget):
    """One budget for all the server processes of a machine (`serve --processes N`).

    Each process first takes its turn in its own budget (waiting on a condition, as above), then
    claims the bytes in a SQLite file all processes share: one row per hold, with the holder's
    pid. Holds of a process that died (a SIGKILL, an OOM kill) stop counting at the next claim,
    so a crash never shrinks the budget. A claim that does not fit is retried every `poll`
    seconds: waits here are for megabytes of image work, far longer than the poll. When the
    file cannot be written (a full disk), this process's own budget alone applies, as the rate
    limits fail open: image work goes on, and the outage is logged.
    """

    def __init__(self, capacity: int, path: Path, outages: OutageLog, poll: float = 0.02) -> None:
        super().__init__(capacity)
        self.poll = poll
        self.outages = outages
        self._path = path
        self._pid = os.getpid()
        self._ready = False  # the table made (at the first claim: the disk may be full now)
        self._setup_lock = threading.Lock()
        self._unreleased: list[int] = []  # holds whose release failed: retried at the next claim
        self.waiting = 0  # holds of this process waiting for bytes other processes hold

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self._path, timeout=30, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            conn.close()

    def _claim(self, amount: int) -> int | None:
        """The hold's row id, or None when the bytes are not free now."""
        pending, self._unreleased = self._unreleased, []
        try:
            return self._claim_in(amount, pending)
        except sqlite3.Error:
            self._unreleased.extend(pending)
            raise

    def _set_up(self) -> None:
        with self._setup_lock:
            if self._ready:
                return
            with self._write() as conn:
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS budget_holds "
                    "(pid INTEGER NOT NULL, bytes INTEGER NOT NULL)"
                )
                # A process that had our pid before us is gone: its holds are not ours.
                conn.execute("DELETE FROM budget_holds WHERE pid = ?", (self._pid,))
            self._ready = True

    def _claim_in(self, amount: int, unreleased: list[int]) -> int | None:
        self._set_up()
        with self._write() as conn:
            for row in unreleased:
                conn.execute("DELETE FROM budget_holds WHERE rowid = ?", (row,))
            pids = [pid for (pid,) in conn.execute("SELECT DISTINCT pid FROM budget_holds")]
            for pid in pids:
                if pid != self._pid and not _alive(pid):
                    conn.execute("DELETE FROM budget_holds WHERE pid = ?", (pid,))
            (used,) = conn.execute("SELECT coalesce(sum(bytes), 0) FROM budget_holds").fetchone()
            if used and used + amount > self.capacity:
                row = None
            else:
                row = conn.execute(
                    "INSERT INTO budget_holds (pid, bytes) VALUES (?, ?)", (self._pid, amount)
                ).lastrowid
        return row

    def _release(self, row: int) -> None:
        try:
            with self._write() as conn:
                conn.execute("DELETE FROM budget_holds WHERE rowid = ?", (row,))
        except sqlite3.Error as exc:
            self._unreleased.append(row)
            self.outages.failed("shared upload memory", exc, "released at the next claim")

    async def _claim_when_free(self, amount: int) -> int | None:
        """The hold's row id once the bytes are free; None if the shared file fails."""
        waited = False
        try:
            while True:
                try:
                    row = await anyio.to_thread.run_sync(self._claim, amount)
                except sqlite3.Error as exc:
                    self.outages.failed("shared upload memory", exc, "this process's budget alone")
                    return None
                if row is not None:
                    return row
                if not waited:
                    waited = True
                    self.waiting += 1
                await anyio.sleep(self.poll)
        finally:
            if waited:
                self.waiting -= 1

    @contextlib.asynccontextmanager
    async def hold(self, amount: int) -> AsyncIterator[None]:
        async with super().hold(amount):
            row = await self._claim_when_free(amount)
            try:
                yield
            finally:
                if row is not None:
                    with anyio.CancelScope(shield=True):
                        await anyio.to_thread.run_sync(self._release, row)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    # A zombie (killed, not yet reaped by the supervisor) holds no memory any more.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # not Linux, or gone meanwhile: os.kill's answer stands
        return True
    return stat.rpartition(")")[2].split()[0] != "Z"
