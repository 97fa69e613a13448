"""What the upload queue is doing, in one line: the tray's tooltip and the state of its icon.

Qt-free: a summary of plain Job values.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from desktop.core.jobs import Job, JobState


@dataclass(frozen=True)
class Activity:
    total: int = 0
    uploading: int = 0
    waiting: int = 0
    done: int = 0
    failed: int = 0
    percent: int | None = None  # of the bytes of this run; None when nothing is left to do
    paused: bool = False

    @property
    def busy(self) -> bool:
        return self.uploading > 0 or self.waiting > 0

    @property
    def text(self) -> str:
        """ "2 of 5 uploading, 48%" while busy; what the run ended with afterwards."""
        if self.paused and self.busy:
            return f"Paused, {self.uploading + self.waiting} waiting"
        if self.uploading:
            return f"{self.uploading} of {self.total} uploading, {self.percent or 0}%"
        if self.waiting:
            return f"Preparing {self.waiting} of {self.total}"
        parts = []
        if self.done:
            parts.append(f"{self.done} uploaded")
        if self.failed:
            parts.append(f"{self.failed} failed")
        return ", ".join(parts) or "Ready"


def summarize(jobs: Iterable[Job], paused: bool = False) -> Activity:
    """`jobs`: the run in progress, i.e. what was added since the queue was last idle.

    The percentage counts the bytes of every job still to do or done; failed and cancelled jobs
    leave the sum, so a failure does not freeze the ring below 100 %. A job still being prepared
    has no size yet: it counts as the average of the others, so the ring does not jump back when
    its size becomes known."""
    jobs = [j for j in jobs if j.state is not JobState.DELETED]
    counts = {state: sum(j.state is state for j in jobs) for state in JobState}
    counting = [j for j in jobs if j.state in (JobState.UPLOADING, JobState.QUEUED, JobState.DONE)]
    known = [j.size for j in counting if j.size > 0]
    guess = sum(known) // len(known) if known else 0
    size = sent = 0
    for job in counting:
        job_size = job.size if job.size > 0 else guess
        size += job_size
        sent += job_size if job.state is JobState.DONE else min(job.sent, job_size)
    uploading, waiting = counts[JobState.UPLOADING], counts[JobState.QUEUED]
    percent = None
    if uploading or waiting:
        percent = min(100, sent * 100 // size) if size else 0
    return Activity(
        total=len(jobs),
        uploading=uploading,
        waiting=waiting,
        done=counts[JobState.DONE],
        failed=counts[JobState.FAILED],
        percent=percent,
        paused=paused,
    )


@dataclass(frozen=True)
class BatchNote:
    """The one notification for a finished batch."""

    title: str
    text: str
    error: bool = False


def names(jobs: list[Job], shown: int = 2) -> str:
    """ "a.png", "a.png and b.png", "a.png, b.png and 18 more"."""
    first = [j.name for j in jobs[:shown]]
    rest = len(jobs) - len(first)
    if rest:
        return f"{', '.join(first)} and {rest} more"
    return " and ".join(first)


def batch_note(jobs: Iterable[Job], copied: bool) -> BatchNote | None:
    """What a finished batch says, once, with counts (None: nothing to say, e.g. all
    cancelled). `copied`: its links went on the clipboard."""
    jobs = list(jobs)
    done = [j for j in jobs if j.state is JobState.DONE]
    failed = [j for j in jobs if j.state is JobState.FAILED]
    if failed:
        title = (
            f"Upload failed: {failed[0].name}"
            if len(jobs) == 1
            else f"{len(failed)} of {len(jobs)} uploads failed"
        )
        reason = failed[0].error or "Unknown error"
        more = f" {names(failed)} failed." if len(failed) > 1 else ""
        copied_note = f" {len(done)} links copied." if copied and done else ""
        return BatchNote(title, reason + more + copied_note, error=True)
    if not done:
        return None
    if copied:
        title = "Link copied" if len(done) == 1 else f"{len(done)} links copied"
    else:
        title = "Upload finished" if len(done) == 1 else f"{len(done)} uploads finished"
    return BatchNote(title, names(done))


class Run:
    """The jobs added since the queue was last idle, and what they are doing.

    The tooltip and the ring count these, so "2 of 5" means this run's five, not everything since
    launch. Sizes become exact only as jobs are staged and sent (a job being prepared counts as
    the average, the upload body adds its envelope), which would nudge the percentage back now and
    then: while the run's jobs stay the same, it never moves back."""

    def __init__(self) -> None:
        self.keys: list[str] = []
        self._floor = 0

    def add(self, key: str, *, previous_over: bool) -> None:
        if previous_over:
            self.keys = []
        self.keys.append(key)
        self._floor = 0  # more work: the percentage may rightly drop

    def remove(self, key: str) -> None:
        if key in self.keys:
            self.keys.remove(key)
            self._floor = 0

    def activity(self, jobs: Iterable[Job], paused: bool = False) -> Activity:
        """`jobs`: this run's jobs still in the queue."""
        activity = summarize(jobs, paused)
        if activity.percent is None:
            return activity
        self._floor = max(self._floor, activity.percent)
        return replace(activity, percent=self._floor)
