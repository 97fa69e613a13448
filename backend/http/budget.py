"""A byte-weighted semaphore: bounds the memory that image work holds at once.

Many small jobs run side by side; big ones take turns. A job larger than the whole budget is
refused before it gets here (imagework.py), so no job waits forever. With several server
processes, `SharedByteBudget` makes the budget the machine's rather than each process's.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import struct
from collections.abc import AsyncIterator
from pathlib import Path

import anyio

from backend.filelock import flocked
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
    claims the bytes in a small file in RAM that all processes share: one slot per process, with
    its pid, its start time and the bytes it holds, read and written whole under an exclusive
    `flock`. A claim or a release is a handful of system calls on the event loop (the lock is held
    for microseconds), not a transaction in a worker thread. Holds of a process that died (a
    SIGKILL, an OOM kill) stop counting as soon as they stand in another's way; the start time
    tells a reused pid from the process that held the bytes. A claim that does not fit is retried
    every `poll` seconds: waits here are for megabytes of image work, far longer than the poll.
    When the file cannot be used (no space in RAM, every slot taken), this process's own budget
    alone applies, as the rate limits fail open: image work goes on, and the outage is logged.
    """

    SLOTS = 256  # processes that can share one file: far more than any machine has cores
    _SLOT = struct.Struct("=qqq")  # pid, start time (clock ticks since boot), bytes held
    _FILE = struct.Struct(f"={3 * SLOTS}q")  # every slot, one after the other

    def __init__(self, capacity: int, path: Path, outages: OutageLog, poll: float = 0.02) -> None:
        super().__init__(capacity)
        self.poll = poll
        self.outages = outages
        self._path = path
        self._fd: int | None = None
        self._me = (0, 0)  # this process: pid and start time, when it opened the file
        self._slot: int | None = None  # ours in the file, taken at the first claim
        self._claimed = 0  # the bytes of this process's holds that count in the file
        self.waiting = 0  # holds of this process waiting for bytes other processes hold

    def _open(self) -> int:
        # Opened by the process that uses it: a flock is shared with a forked child.
        if self._fd is None or self._me[0] != os.getpid():
            fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                with flocked(fd):
                    if os.fstat(fd).st_size < self._FILE.size:  # the first: this may fail
                        os.pwrite(fd, bytes(self._FILE.size), 0)
            except BaseException:
                os.close(fd)
                raise
            self._fd, self._me, self._slot = fd, (os.getpid(), _start_time(os.getpid())), None
        return self._fd

    def _read(self, fd: int) -> tuple[int, ...]:
        """Every slot's pid, start time and bytes, flat."""
        return self._FILE.unpack(os.pread(fd, self._FILE.size, 0))

    def _write_slot(self, fd: int, index: int, pid: int, start: int, held: int) -> None:
        os.pwrite(fd, self._SLOT.pack(pid, start, held), index * self._SLOT.size)

    def _own_slot(self, slots: tuple[int, ...]) -> int:
        if self._slot is None:
            free = (i for i in range(self.SLOTS) if not _alive(*slots[3 * i : 3 * i + 2]))
            self._slot = next(free, None)
            if self._slot is None:
                raise OSError(f"all {self.SLOTS} slots of the shared upload memory are taken")
        return self._slot

    def _claim(self, amount: int) -> bool | None:
        """Whether the bytes were claimed; None while another process has the file locked.
        Raises OSError when the file cannot be used."""
        fd = self._open()
        with flocked(fd, wait=False) as locked:
            if not locked:
                return None
            slots = self._read(fd)
            mine = self._own_slot(slots)
            held = slots[2::3]
            used = self._claimed + sum(held) - held[mine]
            if used and used + amount > self.capacity:
                for i, other in enumerate(held):
                    if other and i != mine and not _alive(*slots[3 * i : 3 * i + 2]):
                        self._write_slot(fd, i, 0, 0, 0)  # its holds died with it
                        used -= other
            fits = not used or used + amount <= self.capacity
            claimed = self._claimed + amount if fits else self._claimed
            # Written even when it does not fit: a release that failed to write is repaired.
            self._write_slot(fd, mine, *self._me, claimed)
            self._claimed = claimed
            return fits

    async def _claim_when_free(self, amount: int) -> bool:
        """True once the bytes are claimed; False if the shared file fails."""
        waited = False
        try:
            while True:
                try:
                    claimed = self._claim(amount)
                except OSError as exc:
                    self.outages.failed("shared upload memory", exc, "this process's budget alone")
                    return False
                if claimed:
                    return True
                if not waited and claimed is False:
                    waited = True
                    self.waiting += 1
                # Another process holds the lock for microseconds (or is stopped with it).
                await anyio.sleep(self.poll if claimed is False else 0.001)
        finally:
            if waited:
                self.waiting -= 1

    async def _release(self, amount: int) -> None:
        self._claimed -= amount
        while True:
            try:
                fd = self._open()
                with flocked(fd, wait=False) as locked:
                    if locked:
                        mine = self._own_slot(self._read(fd))
                        self._write_slot(fd, mine, *self._me, self._claimed)
                        return
            except OSError as exc:  # the next claim writes the right figure
                self.outages.failed("shared upload memory", exc, "released at the next claim")
                return
            await anyio.sleep(0.001)

    @contextlib.asynccontextmanager
    async def hold(self, amount: int) -> AsyncIterator[None]:
        async with super().hold(amount):
            claimed = await self._claim_when_free(amount)
            try:
                yield
            finally:
                if claimed:
                    with anyio.CancelScope(shield=True):
                        await self._release(amount)


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command's name (state first); None where there
    are none to read (not Linux, or no such process)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None


def _start_time(pid: int) -> int:
    """When `pid` started, in clock ticks since boot (Linux); 0 where /proc cannot tell."""
    fields = _stat(pid)
    return 0 if fields is None else int(fields[19])


def _alive(pid: int, start: int) -> bool:
    """Whether the process that took a slot is still running (pid 0: a free slot)."""
    if pid == 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    # A zombie (killed, not yet reaped by the supervisor) holds no memory any more; a different
    # start time is another process that was given the same pid.
    fields = _stat(pid)
    if fields is None:  # not Linux, or gone meanwhile: os.kill's answer stands
        return True
    return fields[0] != "Z" and (start == 0 or int(fields[19]) == start)
