"""Image work (checking an upload, making a thumbnail): what it may cost and when it stops.

Every job
- charges the memory its pixels will take to the byte budget before it starts, and is refused
  (422) when it alone needs more than the whole budget; the bytes it reads its image from are
  charged from the moment they are loaded, measuring included (`extra_memory`), and are loaded
  again by the work rather than kept while it waits for its turn;
- when it is small, is charged up front for pixels up to PIXEL_HEADROOM, so that one trip to a
  thread measures it and, when its pixels fit, does it on the bytes read for the measure (each
  trip to a thread costs wake-ups and locks under the GIL; most uploads need just this one);
- runs on a thread of its own limiter, one job per core: waiting for a slot holds no thread, and
  the default thread pool (serving, health checks, database reads) is never used by image work;
  what follows the work under its charge (`then`: storing an upload, which waits for the disk
  and for a group commit) runs on the default pool, never holding a slot;
- when it is big, or a thumbnail, takes at most all but one of those slots, so small uploads
  never queue behind a few huge images or a storm of thumbnail requests;
- stops at its deadline (TooSlow, 422) and when its client disconnects (ClientGone).

Thumbnails are made once per image: concurrent first requests wait for one computation (single
flight), which stops only when every one of them has gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import anyio
from starlette.requests import Request

from backend.http.body import ClientGone
from backend.http.budget import ByteBudget
from backend.images.cost import check_memory
from backend.images.interrupt import Abandoned, Interrupt, applied

T = TypeVar("T")
U = TypeVar("U")
D = TypeVar("D")  # what a job reads its image from (an upload's body)
# An upload that takes more memory than this is big: it may not take the last free slot.
BIG_JOB_BYTES = 8 * 1024 * 1024
# The pixels a small job is charged for before it is measured: a 1080p JPEG's check decodes
# ~2 MB. One with more goes back to the event loop to be charged in full before its decode.
PIXEL_HEADROOM = 2 * 1024 * 1024


@dataclass(frozen=True)
class _Measured:
    """What a first trip to a thread returns when the job needs more memory than it holds."""

    memory: int


@dataclass
class _Flight:
    task: asyncio.Future
    interrupt: Interrupt
    waiters: int = 0


class ImageWork:
    def __init__(self, jobs: int, budget: ByteBudget, seconds: float) -> None:
        self.limiter = anyio.CapacityLimiter(jobs)
        self._bulk = anyio.CapacityLimiter(max(1, jobs - 1))
        self.budget = budget
        self.seconds = seconds
        self._flights: dict[str, _Flight] = {}
        # Called with the seconds each job ran (not waited), e.g. by the metrics.
        self.job_observers: list[Callable[[float], None]] = []

    def waiting(self) -> int:
        """Jobs queued for a slot. (Read from the metrics' thread too: statistics() copies its
        fields without running Python code, so under the GIL it sees a consistent state.)"""
        return self.limiter.statistics().tasks_waiting + self._bulk.statistics().tasks_waiting

    def running(self) -> int:
        return int(self.limiter.borrowed_tokens)

    async def run(
        self,
        request: Request,
        read: Callable[[], D],
        measure: Callable[[D], int],
        work: Callable[[D], T],
        *,
        extra_memory: int = 0,
        then: Callable[[T], U] | None = None,
    ) -> T | U:
        """`measure(read())` (headers only: the bytes of pixels `work` will decode) with
        `extra_memory` (the bytes `read` loads, e.g. the upload's body) charged, then `work` on
        them with both charged; then `then` on its result, if given, with that charge still
        held (e.g. storing the bytes `work` made), on the default thread pool: it may wait for
        the disk and for commits, which an image-work slot must not. The client leaving stops
        the work, not `then`. Returns what the last of them returns. Raises ImageRejected or
        ClientGone."""
        interrupt = Interrupt(self.seconds)
        with anyio.CancelScope() as scope:

            def gone() -> None:
                interrupt.cancel()
                scope.cancel()

            watcher = asyncio.ensure_future(_on_disconnect(request, gone))
            try:
                return await self._measured(interrupt, read, measure, work, extra_memory, then)
            except Abandoned:
                pass
            finally:
                watcher.cancel()
        raise ClientGone()

    async def background(
        self, measure: Callable[[], int], work: Callable[[], T], *, extra_memory: int = 0
    ) -> T:
        """`run` for work no client waits for: charged and timed the same, in a slot that small
        uploads never wait behind. Raises ImageRejected."""
        return await self._bulk_job(Interrupt(self.seconds), measure, work, extra_memory)

    async def once(
        self,
        key: str,
        request: Request,
        measure: Callable[[], int],
        work: Callable[[], T],
        *,
        extra_memory: int = 0,
    ) -> T:
        """Like `run`, but concurrent calls with the same key share one computation."""
        flight = self._flights.get(key)
        if flight is None or flight.interrupt.cancelled.is_set():  # none, or one being abandoned
            interrupt = Interrupt(self.seconds)
            job = self._bulk_job(interrupt, measure, work, extra_memory)
            task = asyncio.ensure_future(job)
            flight = self._flights[key] = _Flight(task, interrupt)
            task.add_done_callback(lambda _task: self._landed(key, flight))
        flight.waiters += 1
        try:
            with anyio.CancelScope() as scope:
                watcher = asyncio.ensure_future(_on_disconnect(request, scope.cancel))
                try:
                    return await asyncio.shield(flight.task)
                finally:
                    watcher.cancel()
            raise ClientGone()
        finally:
            flight.waiters -= 1
            if flight.waiters == 0:
                flight.interrupt.cancel()  # nobody waits for it any more

    def _landed(self, key: str, flight: _Flight) -> None:
        if self._flights.get(key) is flight:
            del self._flights[key]
        if not flight.task.cancelled():
            flight.task.exception()  # seen here, so an abandoned flight logs nothing

    async def _bulk_job(
        self, interrupt: Interrupt, measure: Callable[[], int], work: Callable[[], T], extra: int
    ) -> T:
        """A job that reads its image itself (a stored blob's), in a bulk slot."""
        return await self._measured(
            interrupt, lambda: None, lambda _: measure(), lambda _: work(), extra, bulk=True
        )

    async def _measured(
        self,
        interrupt: Interrupt,
        read: Callable[[], D],
        measure: Callable[[D], int],
        work: Callable[[D], T],
        extra: int,
        then: Callable[[T], U] | None = None,
        *,
        bulk: bool = False,
    ) -> T | U:
        # The memory a job may do its work in on its first trip, charged up front. A bulk job
        # (background work, thumbnails) takes its bulk slot first and keeps it throughout.
        at_once = min(extra + PIXEL_HEADROOM, BIG_JOB_BYTES, self.budget.capacity)

        def measured_then_done() -> T | _Measured:
            data = read()
            memory = measure(data) + extra
            check_memory(memory, self.budget.capacity)
            if memory <= at_once:
                return work(data)
            return _Measured(memory)  # its bytes are let go while it waits for more

        async with contextlib.AsyncExitStack() as charge:
            async with contextlib.AsyncExitStack() as slot:  # given back before `then`
                if bulk:
                    await slot.enter_async_context(self._bulk)
                first = await charge.enter_async_context(contextlib.AsyncExitStack())
                await first.enter_async_context(self.budget.hold(max(extra, at_once)))
                done = await self._trip(interrupt, measured_then_done)
                if isinstance(done, _Measured):
                    await first.aclose()  # the first charge, given back
                    if not bulk and done.memory > BIG_JOB_BYTES:
                        await slot.enter_async_context(self._bulk)
                    # The slot is waited for before the full charge is taken.
                    await charge.enter_async_context(self.budget.hold(done.memory))
                    done = await self._trip(interrupt, lambda: work(read()))
            return await _finish(done, then)

    async def _trip(self, interrupt: Interrupt, work: Callable[[], T]) -> T:
        """`work()` on an image-work thread, under `interrupt`, timed."""

        def guarded() -> T:
            with applied(interrupt):
                return work()

        def timed() -> T:
            start = time.perf_counter()
            try:
                return guarded()
            finally:
                for observe in self.job_observers:
                    observe(time.perf_counter() - start)

        return await anyio.to_thread.run_sync(timed, limiter=self.limiter)


async def _finish(done: T, then: Callable[[T], U] | None) -> T | U:
    # run_sync waits for its thread even when cancelled: a store under way completes.
    return done if then is None else await anyio.to_thread.run_sync(then, done)


async def _on_disconnect(request: Request, gone: Callable[[], None]) -> None:
    """Call `gone` when the client hangs up (the body has been read: the next message says so)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass
    gone()
