"""The upload pipeline: the one sequence every upload goes through, in the window, the tray and
the `picdrop upload` command alike.

stage   (a worker) read the source (a folder becomes one job per image inside), strip, record it
        in history with the bytes to send — `desktop.core.staging`;
send    (a worker) those recorded bytes to the job's destination, retried under one idempotency
        key — `desktop.core.uploader`;
decide  (the owner's thread) every change of a job's state and of its history row, here.

Qt-free: the owner says how to run work on a worker (`start`) and how to hand a report back to its
own thread (`post`); the app uses a QThreadPool and a queued signal, the command a thread pool and
a queue it drains. Thumbnails are not part of it (`after_staging` hands the bytes to whoever makes
them), so nothing here ever waits for one.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Protocol

from desktop.core.api import (
    CancelToken,
    PicdropClient,
    PicdropError,
    ServerUnreachable,
    UploadCancelled,
    UploadResult,
)
from desktop.core.history import HistoryItem, HistoryStore
from desktop.core.intake import BytesSource, FileSource, Source
from desktop.core.jobs import DEFAULT_PARALLEL, Job, JobQueue, JobState, new_key
from desktop.core.links import LinkInfo
from desktop.core.retry import RetryPolicy, is_refusal
from desktop.core.server_actions import delete_upload
from desktop.core.staging import Staged, StageFailed, folder_images, stage
from desktop.core.uploader import SpeedMeter, describe_error, describe_wait, upload_with_retry

log = logging.getLogger(__name__)

# Progress reports are throttled to this interval (the last one, at 100 %, always goes out).
PROGRESS_INTERVAL = 0.05
# Staged bytes kept in memory for their first try, up to this many in all: reading 2.6 MB back
# from history costs the send ~2.5 ms; a big batch past this is read back as before.
HANDOVER_BYTES = 64 * 1024 * 1024

Work = Callable[[], None]


def is_picdrop_server(destination: str) -> bool:
    """A picdrop server is named by its URL; other destinations by a kind prefix (sxcu:)."""
    return destination.startswith(("http://", "https://"))


class Destination(Protocol):
    """Where an upload goes: a picdrop server (PicdropClient) or a custom uploader."""

    def upload(
        self,
        data: bytes,
        filename: str,
        mime: str,
        *,
        idempotency_key: str,
        expires: str | None = None,
        progress: Callable[[int, int], None] | None = None,
        cancel: CancelToken | None = None,
    ) -> UploadResult: ...

    def delete(self, image_id: str, delete_token: str) -> None: ...

    def close(self) -> None: ...


class PipelineEvents:
    """What the pipeline tells its owner, always on the owner's thread. Override what you need."""

    def job_added(self, job: Job) -> None: ...

    def job_changed(self, job: Job) -> None: ...  # state, status line, error, result

    def job_removed(self, job: Job) -> None: ...

    def job_progress(self, job: Job, sent: int, total: int) -> None: ...

    def job_done(self, job: Job) -> None: ...

    def batch_finished(self, batch: str) -> None: ...  # every job of it has finished

    def history_changed(self) -> None: ...

    def paused_changed(self, paused: bool) -> None: ...


class Pipeline:
    def __init__(
        self,
        history: HistoryStore,
        destination: str,
        events: PipelineEvents,
        *,
        start: Callable[[Work], object],
        post: Callable[[Work], object],
        parallel: int = DEFAULT_PARALLEL,
        strip: bool = True,
        policy: RetryPolicy | None = None,
        client_factory: Callable[[str], Destination] = PicdropClient,
        after_staging: Callable[[str, bytes], None] | None = None,
    ) -> None:
        self.history = history
        self.destination = destination.rstrip("/")
        self.events = events
        self.strip = strip
        self.policy = policy or RetryPolicy()
        self.client_factory = client_factory
        self.queue = JobQueue(parallel)
        self._start = start
        self._post = post
        self._after_staging = after_staging
        self._tokens: dict[str, CancelToken] = {}
        # Which try a worker's report belongs to: a report from a try that was cancelled and
        # retried meanwhile is ignored.
        self._runs: dict[str, int] = {}
        self._meters: dict[str, SpeedMeter] = {}
        # Staged bytes (exactly those recorded) waiting for their first try: see HANDOVER_BYTES.
        self._handover: dict[str, bytes] = {}
        self._handover_bytes = 0
        self._stopping = False
        self._paused = False

    # -- intake -------------------------------------------------------------------------------
    def enqueue(
        self, sources: Iterable[Source], batch: str = "", *, expires: str | None = None
    ) -> str:
        """The one way in: queue a batch of files, folders, pasted bytes and URLs; returns its
        id. Rows appear at once; staging happens in workers. `expires`: the lifetime asked."""
        batch = batch or uuid.uuid4().hex
        for source in sources:
            self._add(source, batch, expires)
        return batch

    def _add(self, source: Source, batch: str, expires: str | None) -> Job:
        size = len(source.data) if isinstance(source, BytesSource) else 0
        job = self.queue.add(
            Job(
                key=new_key(),
                name=source.name,
                batch=batch,
                size=size,
                expires=expires,
                destination=self.destination,
            )
        )
        self._runs[job.key] = 0
        self.events.job_added(job)
        queued = HistoryItem(
            key=job.key,
            idem_key=job.idem_key,
            batch=batch,
            name=job.name,
            size=0,
            mime="",
            state=JobState.QUEUED,
            server=job.destination,
            created_at=job.created_at,
            expires=expires,
        )
        # Only a picdrop server strips what it receives itself: for any other host the strip
        # here is the only one, so it is not optional.
        strip = self.strip or not is_picdrop_server(job.destination)
        self._start(lambda: self._stage_worker(source, queued, strip))
        return job

    def resume_unfinished(self) -> list[str]:
        """Put back what a previous run left queued or half-sent (same keys: no duplicates)."""
        keys = []
        for item in self.history.unfinished():
            if item.key in self.queue:
                continue
            job = Job(
                key=item.key,
                idem_key=item.idem_key,
                name=item.name,
                batch=item.batch,
                size=item.size,
                removed=list(item.removed),
                thumbnail=item.thumbnail,
                created_at=item.created_at,
                expires=item.expires,
                destination=item.server or self.destination,
                ready=True,
            )
            self.queue.add(job)
            self._runs[job.key] = 0
            keys.append(job.key)
            self.events.job_added(job)
        self._schedule()
        return keys

    # -- user actions -------------------------------------------------------------------------
    def cancel(self, key: str) -> None:
        job = self.queue.get(key)
        if job.state.finished:
            return
        token = self._tokens.get(key)
        if token is not None:
            token.cancel()  # the transfer stops at its next chunk
        job.state = JobState.CANCELLED
        job.status = ""
        job.speed = 0.0
        if job.ready:
            self.history.set_state(key, JobState.CANCELLED)
        self.events.job_changed(job)
        self.events.history_changed()
        self._after_finish(job)

    def cancel_all(self) -> None:
        for job in list(self.queue):
            if not job.state.finished:
                self.cancel(job.key)

    def retry(self, key: str) -> None:
        """Try again: a failed or cancelled upload from the start; one waiting out a backoff,
        now."""
        job = self.queue.get(key)
        if job.waiting:
            token = self._tokens.get(key)
            if token is not None:
                token.wake()
            return
        if not job.can_retry:
            return
        if job.state is JobState.CANCELLED:
            # The cancelled try may have reached the server and been deleted there; a fresh
            # key makes the retry a new upload instead of a replay of the deleted one.
            job.idem_key = new_key()
            self.history.renew_idempotency_key(key, job.idem_key)
        job.state = JobState.QUEUED
        job.error = job.status = ""
        job.unreachable = False
        job.sent = 0
        self.history.set_state(key, JobState.QUEUED)
        self.events.job_changed(job)
        self.events.history_changed()
        self._schedule()

    @property
    def paused(self) -> bool:
        return self._paused

    def set_paused(self, paused: bool) -> None:
        """Paused: nothing new starts; uploads already sending finish (stopping them halfway
        would waste what was sent). Resuming starts what waited."""
        if paused == self._paused:
            return
        self._paused = paused
        self.events.paused_changed(paused)
        self._schedule()

    def set_parallel(self, parallel: int) -> None:
        self.queue.parallel = max(1, parallel)
        self._schedule()

    def set_destination(self, destination: str) -> None:
        """Where jobs queued from now on go; queued ones keep theirs (their rows say so)."""
        self.destination = destination.rstrip("/")

    def clear_finished(self) -> None:
        for job in list(self.queue):
            if job.state.finished:
                self.queue.remove(job.key)
                self.events.job_removed(job)

    def mark_deleted(self, key: str) -> None:
        """The upload was deleted from its server (history already says so)."""
        if key in self.queue:
            job = self.queue.get(key)
            job.state = JobState.DELETED
            self.events.job_changed(job)

    def link_info(self, key: str) -> LinkInfo | None:
        job = self.queue.get(key)
        if job.result is None:
            return None
        return LinkInfo.from_mapping(job.result.__dict__, name=job.name)

    def batch_links(self, batch: str) -> list[LinkInfo]:
        infos = [self.link_info(j.key) for j in self.queue.batch_jobs(batch)]
        return [i for i in infos if i is not None]

    def stop(self) -> None:
        """Start nothing more and stop the transfers at their next chunk. Unfinished jobs stay
        queued in history and are resumed on the next start."""
        self._stopping = True
        for token in self._tokens.values():
            token.cancel()

    # -- scheduling ---------------------------------------------------------------------------
    def _schedule(self) -> None:
        if self._stopping or self._paused:
            return
        for job in self.queue.next_to_start():
            self._runs[job.key] = run = self._runs.get(job.key, 0) + 1
            token = self._tokens[job.key] = CancelToken()
            job.state = JobState.UPLOADING
            job.status = ""
            self.history.set_state(job.key, JobState.UPLOADING, wait=False)
            self.events.job_changed(job)
            order = (job.key, job.idem_key, job.name, job.expires, job.destination)
            data = self._take_handover(job.key)
            self._start(lambda o=order, r=run, t=token, d=data: self._send_worker(*o, r, t, d))

    def _take_handover(self, key: str) -> bytes | None:
        data = self._handover.pop(key, None)
        self._handover_bytes -= len(data or b"")
        return data

    def _after_finish(self, job: Job) -> None:
        self._take_handover(job.key)
        self._tokens.pop(job.key, None)
        self._meters.pop(job.key, None)
        job.speed = 0.0
        if self.queue.batch_finished(job.batch):
            self.events.batch_finished(job.batch)
        self._schedule()

    def _current(self, key: str, run: int) -> Job | None:
        if key not in self.queue or self._runs.get(key) != run:
            return None
        job = self.queue.get(key)
        return None if job.state is not JobState.UPLOADING else job

    # -- workers (no job touched: they only post reports back) --------------------------------
    def _stage_worker(self, source: Source, queued: HistoryItem, strip: bool) -> None:
        key = queued.key
        try:
            found = folder_images(source)
            if found is not None:
                self._post(lambda: self._on_expanded(key, found))
                return
            staged = stage(source, queued, self.history, strip=strip)
        except StageFailed as exc:
            message = str(exc)
        except Exception as exc:  # a worker must always report back
            log.exception("staging %s failed", key)
            message = f"Cannot prepare this file: {exc}"
        else:
            self._post(lambda: self._on_staged(staged))
            if self._after_staging is not None:
                self._after_staging(key, staged.data)
            return
        self._post(lambda: self._on_stage_failed(key, message))

    def _send_worker(
        self,
        key: str,
        idem_key: str,
        name: str,
        expires: str | None,
        destination: str,
        run: int,
        token: CancelToken,
        staged: bytes | None = None,
    ) -> None:
        last = 0.0

        def progress(sent: int, total: int) -> None:
            nonlocal last
            now = time.monotonic()
            if sent >= total or sent == 0 or now - last >= PROGRESS_INTERVAL:
                last = now
                self._post(lambda: self._on_sending(key, run, sent, total))

        def waiting(error: Exception, delay: float, _attempt: int) -> None:
            message = describe_wait(error, delay)
            self._post(lambda: self._on_waiting(key, run, message))

        client = self.client_factory(destination)
        try:
            data = staged if staged is not None else self.history.payload(key)
            item = self.history.get(key)
            if data is None or item is None:
                message = "The file to upload is no longer available."
                self._post(lambda: self._on_failed(key, run, message, False))
                return
            result = upload_with_retry(
                client,
                data,
                name,
                item.mime,
                key=idem_key,
                policy=self.policy,
                cancel=token,
                progress=progress,
                waiting=waiting,
                expires=expires,
            )
        except UploadCancelled:
            self._post(lambda: self._on_stopped(key, run))
        except PicdropError as exc:
            message, unreachable = describe_error(exc), isinstance(exc, ServerUnreachable)
            refused = is_refusal(exc)
            self._post(lambda: self._on_failed(key, run, message, unreachable, refused))
        except Exception:  # a worker must always report back
            log.exception("upload %s failed", key)
            message = "Something unexpected went wrong; try again (picdrop's log has details)."
            self._post(lambda: self._on_failed(key, run, message, False))
        else:
            self._post(lambda: self._on_succeeded(key, run, result, destination))
        finally:
            client.close()

    def _take_back(self, destination: str, result: UploadResult) -> None:
        client = self.client_factory(destination)
        try:
            delete_upload(client, result.id, result.delete_token)
        except PicdropError:
            log.warning("could not delete cancelled upload %s", result.id)
        finally:
            client.close()

    # -- worker reports (the owner's thread) --------------------------------------------------
    def _on_expanded(self, key: str, paths: list[Path]) -> None:
        if key not in self.queue or self._stopping:
            return
        folder = self.queue.get(key)
        if folder.state.finished:
            return
        if not paths:
            self._on_stage_failed(key, "There are no images in this folder.")
            return
        # The files join the folder's batch before the folder leaves it: the batch never looks
        # finished in between.
        for path in paths:
            self._add(FileSource(path), folder.batch, folder.expires)
        self.queue.remove(key)
        self.events.job_removed(folder)

    def _on_staged(self, staged: Staged) -> None:
        item = staged.item
        if item.key not in self.queue:
            return
        job = self.queue.get(item.key)
        job.name = item.name
        job.size = item.size
        job.removed = item.removed
        job.converted_from = staged.converted_from
        job.ready = True
        if job.state is JobState.CANCELLED:
            self.history.set_state(item.key, JobState.CANCELLED)
        elif self._handover_bytes + len(staged.data) <= HANDOVER_BYTES:
            self._handover[item.key] = staged.data
            self._handover_bytes += len(staged.data)
        self.events.job_changed(job)
        self.events.history_changed()
        self._schedule()

    def _on_stage_failed(self, key: str, message: str) -> None:
        if key not in self.queue:
            return
        job = self.queue.get(key)
        if job.state.finished:
            return
        job.state = JobState.FAILED
        job.error = message
        self.events.job_changed(job)
        self._after_finish(job)

    def _on_sending(self, key: str, run: int, sent: int, total: int) -> None:
        job = self._current(key, run)
        if job is None:
            return
        if job.status:
            job.status = ""  # a retry is sending again
            self.events.job_changed(job)
        job.sent = sent
        job.size = total
        job.speed = self._meters.setdefault(key, SpeedMeter()).update(sent)
        self.events.job_progress(job, sent, total)

    def _on_waiting(self, key: str, run: int, message: str) -> None:
        job = self._current(key, run)
        if job is None:
            return
        job.status = message
        job.sent = 0
        # Nothing is moving while it waits: no speed until the next try sends bytes again.
        job.speed = 0.0
        self._meters.pop(key, None)
        self.events.job_changed(job)

    def _on_succeeded(self, key: str, run: int, result: UploadResult, destination: str) -> None:
        job = self._current(key, run)
        if job is None:
            if key in self.queue and self.queue.get(key).state is JobState.CANCELLED:
                # Finished in the instant the user cancelled: honour the cancel.
                self._start(lambda: self._take_back(destination, result))
            return
        job.state = JobState.DONE
        job.result = result
        job.sent = job.size
        job.status = job.error = ""
        self.history.set_done(key, result, wait=False)
        self.events.job_changed(job)
        self.events.job_done(job)
        self.events.history_changed()
        self._after_finish(job)

    def _on_failed(
        self, key: str, run: int, message: str, unreachable: bool, refused: bool = False
    ) -> None:
        job = self._current(key, run)
        if job is None:
            return
        job.state = JobState.FAILED
        job.error = message
        job.unreachable = unreachable
        job.refused = refused
        job.status = ""
        self.history.set_state(key, JobState.FAILED, message, wait=False)
        self.events.job_changed(job)
        self.events.history_changed()
        self._after_finish(job)

    def _on_stopped(self, key: str, run: int) -> None:
        job = self._current(key, run)
        if job is None:
            return
        # Stopped by shutdown, not by the user: it stays queued (and is resumed next start).
        job.state = JobState.QUEUED
        self.history.set_state(key, JobState.QUEUED)
        self.events.job_changed(job)
