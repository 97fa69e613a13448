"""The upload queue as plain data: jobs, their states, batches and the parallelism limit.

No threads here; whoever runs the jobs (the Qt upload service, the CLI) asks the queue which job
to start next and reports what happened.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum

from desktop.core.api import UploadResult

DEFAULT_PARALLEL = 3


class JobState(StrEnum):
    QUEUED = "queued"
    UPLOADING = "uploading"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    DELETED = "deleted"  # done, then deleted from the server by the user (history only)

    @property
    def finished(self) -> bool:
        return self in (JobState.DONE, JobState.FAILED, JobState.CANCELLED, JobState.DELETED)

    @property
    def label(self) -> str:
        return {
            JobState.QUEUED: "Queued",
            JobState.UPLOADING: "Uploading",
            JobState.DONE: "Done",
            JobState.FAILED: "Failed",
            JobState.CANCELLED: "Cancelled",
            JobState.DELETED: "Deleted",
        }[self]


def new_key() -> str:
    """One per file, kept across retries and restarts: the job id, the history row's key and
    the Idempotency-Key sent to the server."""
    return uuid.uuid4().hex


@dataclass
class Job:
    key: str
    name: str
    batch: str
    idem_key: str = ""  # defaults to `key`; renewed when a cancelled job is retried
    size: int = 0
    state: JobState = JobState.QUEUED
    ready: bool = False  # prepared and recorded in history, may be started
    sent: int = 0
    speed: float = 0.0  # bytes per second
    error: str = ""
    status: str = ""  # transient line, e.g. "Cannot reach ...: retrying in 4 s"
    unreachable: bool = False  # failed because the server gave no answer at all
    refused: bool = False  # refused for good (the same bytes would be refused again): no Retry
    converted_from: str = ""  # "HEIF", "BMP"...: converted to PNG or JPEG on this computer
    expires: str | None = None  # asked-for lifetime (1h, 1d, 7d, 30d, never); None: the default
    destination: str = ""  # where it goes, fixed when queued (the history row says the same)
    removed: list[str] = field(default_factory=list)
    thumbnail: bytes | None = None
    result: UploadResult | None = None
    created_at: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        self.idem_key = self.idem_key or self.key

    @property
    def waiting(self) -> bool:
        """Uploading, but waiting out a backoff before its next try (`status` says why)."""
        return self.state is JobState.UPLOADING and bool(self.status)

    @property
    def can_retry(self) -> bool:
        """Staged (the bytes are kept), stopped, and not refused for good."""
        stopped = self.state in (JobState.FAILED, JobState.CANCELLED)
        return stopped and self.ready and not self.refused


class JobQueue:
    def __init__(self, parallel: int = DEFAULT_PARALLEL) -> None:
        self.parallel = max(1, parallel)
        self._jobs: dict[str, Job] = {}
        self._batches: dict[str, list[str]] = {}

    def __iter__(self) -> Iterator[Job]:
        return iter(self._jobs.values())

    def __len__(self) -> int:
        return len(self._jobs)

    def __contains__(self, key: str) -> bool:
        return key in self._jobs

    def get(self, key: str) -> Job:
        return self._jobs[key]

    def add(self, job: Job) -> Job:
        self._jobs[job.key] = job
        self._batches.setdefault(job.batch, []).append(job.key)
        return job

    def remove(self, key: str) -> None:
        job = self._jobs.pop(key)
        self._batches[job.batch].remove(key)

    def running(self) -> list[Job]:
        return [j for j in self._jobs.values() if j.state is JobState.UPLOADING]

    def next_to_start(self) -> list[Job]:
        """Ready queued jobs that fit in the free slots, oldest first."""
        free = self.parallel - len(self.running())
        if free <= 0:
            return []
        waiting = [j for j in self._jobs.values() if j.state is JobState.QUEUED and j.ready]
        return waiting[:free]

    def batch_jobs(self, batch: str) -> list[Job]:
        return [self._jobs[k] for k in self._batches.get(batch, [])]

    def batch_finished(self, batch: str) -> bool:
        jobs = self.batch_jobs(batch)
        return bool(jobs) and all(j.state.finished for j in jobs)

    def retryable(self) -> list[Job]:
        """Failed or cancelled jobs a retry could still help."""
        return [j for j in self._jobs.values() if j.can_retry]

    def idle(self) -> bool:
        return all(j.state.finished for j in self._jobs.values())
