"""Group commit: the write jobs of concurrent callers share one transaction and one commit.

On SQLite every commit is an fsync of the WAL, and the write lock is held through it, so one
process commits a few hundred times a second at most, however many uploads are ready. Here the
first caller to get the leader's lock runs every job queued by then, each in its own SAVEPOINT (a
job that fails rolls back alone, and its caller gets the exception), commits once, and wakes the
others. No caller returns before the commit that holds its job, so nothing is acknowledged before
it is durable; if the commit itself fails, every job in it fails with that error.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection

T = TypeVar("T")


class _Job(Generic[T]):
    __slots__ = ("error", "finished", "value", "work")

    def __init__(self, work: Callable[[Connection], T]) -> None:
        self.work = work
        self.value: T | None = None
        self.error: BaseException | None = None
        self.finished = False

    def outcome(self) -> T:
        if self.error is not None:
            raise self.error
        return self.value  # type: ignore[return-value]


class GroupCommit:
    def __init__(self, transaction: Callable[[], AbstractContextManager[Connection]]) -> None:
        self._transaction = transaction
        self._queue: list[_Job[Any]] = []
        self._queue_lock = threading.Lock()
        self._leader = threading.Lock()

    def run(self, work: Callable[[Connection], T]) -> T:
        """`work(conn)` in a transaction shared with the jobs queued beside it; its result once
        that transaction has committed."""
        job = _Job(work)
        with self._queue_lock:
            self._queue.append(job)
        with self._leader:
            if not job.finished:  # nobody committed it meanwhile: lead this batch
                with self._queue_lock:
                    batch, self._queue = self._queue, []
                self._commit(batch)
        return job.outcome()

    def _commit(self, batch: list[_Job[Any]]) -> None:
        try:
            with self._transaction() as conn:
                for job in batch:
                    try:
                        with conn.begin_nested():
                            job.value = job.work(conn)
                    except Exception as exc:
                        job.error = exc
        except BaseException as exc:  # the commit failed: none of the batch happened
            for job in batch:
                job.value, job.error = None, exc
            if not isinstance(exc, Exception):
                raise
        finally:
            for job in batch:
                job.finished = True
