"""`picdrop upload` to a server it talks to itself: the app's own pipeline (`desktop.core.pipeline`)
on a thread pool, its reports run on the command's main thread, recorded in the same history."""

from __future__ import annotations

import dataclasses
import queue
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from desktop.commands.inputs import Input
from desktop.commands.report import Reporter
from desktop.core.api import PicdropClient
from desktop.core.history import HistoryStore
from desktop.core.intake import BytesSource, FileSource, Source
from desktop.core.jobs import DEFAULT_PARALLEL, Job, JobState
from desktop.core.pipeline import Destination, Pipeline, PipelineEvents, Work
from desktop.core.retry import RetryPolicy
from desktop.core.thumbnailer import Thumbnailer, record_thumbnail

# A command should not hang for minutes on a dead server: three tries within a few seconds.
CLI_RETRY = RetryPolicy(max_attempts=3, base=0.5, cap=2.0, max_retry_after=60.0)


def source_of(item: Input) -> Source:
    if item.path is not None:
        return FileSource(item.path)
    return BytesSource(item.read(), item.name)


class _Report(PipelineEvents):
    """The pipeline's events as the command's output, in the order the files were given."""

    def __init__(self, reporter: Reporter) -> None:
        self.reporter = reporter
        self.pipeline: Pipeline | None = None
        self.index: dict[str, int] = {}
        self._statuses: dict[str, str] = {}

    def job_progress(self, job: Job, sent: int, total: int) -> None:
        self.reporter.sending(self.index[job.key], sent, total)

    def job_changed(self, job: Job) -> None:
        index = self.index[job.key]
        if job.state is JobState.FAILED:
            self.reporter.failed(index, job.error, unreachable=job.unreachable)
            if job.unreachable:
                self._give_up(job.batch)
        elif job.status and job.status != self._statuses.get(job.key):
            self._statuses[job.key] = job.status
            self.reporter.waiting(index, job.status)

    def job_done(self, job: Job) -> None:
        assert job.result is not None
        self.reporter.done(self.index[job.key], dataclasses.asdict(job.result))

    def _give_up(self, batch: str) -> None:
        # The server is unreachable: the rest would fail the same way, after the same wait.
        assert self.pipeline is not None
        for job in self.pipeline.queue.batch_jobs(batch):
            if not job.state.finished:
                message = "not tried: the server is unreachable"
                self.reporter.failed(self.index[job.key], message, unreachable=True)
                self.pipeline.cancel(job.key)


def upload_direct(
    inputs: list[Input],
    server: str,
    history: HistoryStore,
    reporter: Reporter,
    *,
    expires: str | None = None,
    strip: bool = True,
    policy: RetryPolicy = CLI_RETRY,
    client_factory: Callable[[str], Destination] = PicdropClient,
) -> None:
    """Upload every input; returns once each has its line (links do not wait for thumbnails,
    which are finished for the history afterwards)."""
    reports: queue.Queue[Work] = queue.Queue()
    events = _Report(reporter)
    thumbnails = Thumbnailer(lambda key, data: record_thumbnail(history, key, data))
    with ThreadPoolExecutor(DEFAULT_PARALLEL + 2, thread_name_prefix="picdrop-upload") as pool:
        pipeline = events.pipeline = Pipeline(
            history,
            server,
            events,
            start=pool.submit,
            post=reports.put,
            strip=strip,
            policy=policy,
            client_factory=client_factory,
            after_staging=thumbnails.submit,
        )
        batch = pipeline.enqueue([source_of(i) for i in inputs], expires=expires)
        events.index = {job.key: i for i, job in enumerate(pipeline.queue.batch_jobs(batch))}
        interrupted = False
        try:
            while not pipeline.queue.batch_finished(batch):
                reports.get()()
        except KeyboardInterrupt:
            interrupted = True
            pipeline.cancel_all()  # the rows say "cancelled", not "uploading"
            raise
        finally:
            pipeline.stop()
            pool.shutdown(wait=True)
            while not reports.empty():  # what the workers said last, e.g. a file recorded
                reports.get()()
            thumbnails.stop(finish_all=not interrupted)
