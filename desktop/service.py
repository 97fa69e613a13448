"""UploadService: the upload pipeline (`desktop.core.pipeline`) on an app-owned thread pool, told
as Qt signals.

Workers report back through one queued signal, which Qt delivers on the GUI thread, so every
decision about a job is made there; the window, the tray and the `picdrop` command only listen.
It also keeps the rows' thumbnails, made on a low-priority thread that holds back while uploads
are under way, and never waited for.
QtCore only: a CLI can use it without widgets.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from PySide6.QtCore import QObject, QThreadPool, Signal, Slot

from desktop.core.api import PicdropClient
from desktop.core.history import HistoryStore
from desktop.core.intake import Source
from desktop.core.jobs import DEFAULT_PARALLEL, Job, JobState
from desktop.core.links import LinkInfo
from desktop.core.lru import LruCache
from desktop.core.pipeline import Pipeline, PipelineEvents, Work
from desktop.core.retry import RetryPolicy
from desktop.core.thumbnailer import Thumbnailer, record_thumbnail

# What "Copy image" and "Save as…" can still use of the listed uploads, in bytes.
SENT_BYTES_KEPT = 256 * 1024 * 1024


class _Signals(PipelineEvents):
    def __init__(self, service: UploadService) -> None:
        self.service = service

    def job_added(self, job: Job) -> None:
        self.service.job_added.emit(job.key)
        self._uploads_under_way(job)

    def job_changed(self, job: Job) -> None:
        self.service.job_changed.emit(job.key)
        self._uploads_under_way(job)

    def job_removed(self, job: Job) -> None:
        self.service.job_removed.emit(job.key)
        self._uploads_under_way(job)

    def _uploads_under_way(self, job: Job) -> None:
        """Tell the thumbnailer whether to hold back (the whole queue is read only when a job
        has just finished or gone)."""
        under_way = not job.state.finished and job.key in self.service.queue
        self.service._thumbnailer.set_busy(under_way or not self.service.queue.idle())

    def job_progress(self, job: Job, sent: int, total: int) -> None:
        self.service.job_progress.emit(job.key, sent, total)

    def job_done(self, job: Job) -> None:
        self.service.job_done.emit(job.key)

    def batch_finished(self, batch: str) -> None:
        self.service.batch_finished.emit(batch)

    def history_changed(self) -> None:
        self.service.history_changed.emit()

    def paused_changed(self, paused: bool) -> None:
        self.service.paused_changed.emit(paused)


class UploadService(QObject):
    # Keys are job keys (str).
    job_added = Signal(str)
    job_changed = Signal(str)  # state, status line, error, result, thumbnail
    job_removed = Signal(str)
    job_progress = Signal(str, "qint64", "qint64")  # key, bytes sent, bytes total
    job_done = Signal(str)
    batch_finished = Signal(str)  # batch id; every job of it has finished
    history_changed = Signal()
    paused_changed = Signal(bool)

    _posted = Signal(object)  # a worker's report, run on the GUI thread

    def __init__(
        self,
        history: HistoryStore,
        server_url: str,
        *,
        parallel: int = DEFAULT_PARALLEL,
        strip_metadata: bool = True,
        policy: RetryPolicy | None = None,
        client_factory: Callable[[str], PicdropClient] = PicdropClient,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.history = history
        # App-owned, not QThreadPool.globalInstance(): quitting waits for exactly our workers.
        self.pool = QThreadPool(self)
        self._thumbnailer = Thumbnailer(self._thumbnail_worker)
        self.pipeline = Pipeline(
            history,
            server_url,
            _Signals(self),
            start=self.pool.start,
            post=self._posted.emit,
            parallel=parallel,
            strip=strip_metadata,
            policy=policy,
            client_factory=client_factory,
            after_staging=self._after_staging,
        )
        # The bytes listed uploads sent (metadata stripped), for "Copy image" and "Save as…":
        # the most recent SENT_BYTES_KEPT of them (a dropped folder of photos is gigabytes),
        # each dropped with its row.
        self._sent_bytes: LruCache[str, bytes] = LruCache(SENT_BYTES_KEPT, weigh=len)
        self.job_removed.connect(self._sent_bytes.discard)
        self.queue = self.pipeline.queue
        self._posted.connect(self._run_posted)
        self._resize_pool()

    # -- configuration ------------------------------------------------------------------------
    @property
    def parallel(self) -> int:
        return self.queue.parallel

    def set_parallel(self, parallel: int) -> None:
        self.pipeline.set_parallel(parallel)
        self._resize_pool()

    @property
    def server_url(self) -> str:
        return self.pipeline.destination

    def set_server(self, server_url: str) -> None:
        self.pipeline.set_destination(server_url)

    @property
    def strip_metadata(self) -> bool:
        return self.pipeline.strip

    @strip_metadata.setter
    def strip_metadata(self, strip: bool) -> None:
        self.pipeline.strip = strip

    def _resize_pool(self) -> None:
        # Uploads are capped by the queue; two more threads keep staging moving.
        self.pool.setMaxThreadCount(self.queue.parallel + 2)

    # -- the pipeline -------------------------------------------------------------------------
    def enqueue(
        self, sources: Iterable[Source], batch: str = "", *, expires: str | None = None
    ) -> str:
        """The one way in (drop, paste, file dialogs, tray, capture, the command); returns the
        batch id."""
        return self.pipeline.enqueue(sources, batch, expires=expires)

    def resume_unfinished(self) -> list[str]:
        return self.pipeline.resume_unfinished()

    def job(self, key: str) -> Job:
        return self.queue.get(key)

    def jobs(self) -> list[Job]:
        return list(self.queue)

    def cancel(self, key: str) -> None:
        self.pipeline.cancel(key)

    def cancel_all(self) -> None:
        self.pipeline.cancel_all()

    def retry(self, key: str) -> None:
        self.pipeline.retry(key)

    def retry_all(self) -> None:
        """Every failed or cancelled upload a retry can help (not the ones refused for good)."""
        for job in self.queue.retryable():
            self.pipeline.retry(job.key)

    def done_links(self) -> list[LinkInfo]:
        """The links of the finished uploads in the list, oldest first."""
        done = (job for job in self.queue if job.state is JobState.DONE)
        infos = (self.pipeline.link_info(job.key) for job in done)
        return [info for info in infos if info is not None]

    @property
    def paused(self) -> bool:
        return self.pipeline.paused

    def set_paused(self, paused: bool) -> None:
        self.pipeline.set_paused(paused)

    def clear_finished(self) -> None:
        self.pipeline.clear_finished()

    def mark_deleted(self, key: str) -> None:
        self.pipeline.mark_deleted(key)
        self.history_changed.emit()

    def link_info(self, key: str) -> LinkInfo | None:
        return self.pipeline.link_info(key)

    def batch_links(self, batch: str) -> list[LinkInfo]:
        return self.pipeline.batch_links(batch)

    def notify_history_changed(self) -> None:
        """Another process (the `picdrop` command) wrote to the history database."""
        self.history_changed.emit()

    def forget(self, key: str) -> None:
        self.history.forget(key)
        self.history_changed.emit()

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        """Stop sending and wait for the workers. Unfinished jobs stay queued in history and are
        resumed on the next start."""
        self.pipeline.stop()
        done = self.pool.waitForDone(timeout_ms)
        self._thumbnailer.stop()
        return done

    @Slot(object)
    def _run_posted(self, report: Work) -> None:
        report()

    def image_bytes(self, key: str) -> bytes | None:
        """What a listed upload sent (metadata stripped), or None when not known here."""
        data = self._sent_bytes.get(key, None)
        return data if isinstance(data, bytes) else None

    def save_image(self, key: str, path: Path) -> str:
        """Write what the upload sent to `path`; "" when saved, else a sentence for a person."""
        data = self.image_bytes(key)
        if data is None:
            return "This image is no longer kept here: open its link and save it from there."
        try:
            path.write_bytes(data)
        except OSError as exc:
            return f"Could not save to {path}: {exc.strerror or exc}. Choose another folder."
        return ""

    def _after_staging(self, key: str, data: bytes) -> None:
        """On a staging worker: keep the bytes (on the GUI thread), make the thumbnail."""
        self._posted.emit(lambda: self._sent_bytes.put(key, data))
        self._thumbnailer.submit(key, data)

    # -- thumbnails ---------------------------------------------------------------------------
    def _thumbnail_worker(self, key: str, data: bytes) -> None:
        thumbnail = record_thumbnail(self.history, key, data)
        if thumbnail is not None:
            self._posted.emit(lambda: self._on_thumbnail(key, thumbnail))

    def _on_thumbnail(self, key: str, thumbnail: bytes) -> None:
        if key in self.queue:
            self.queue.get(key).thumbnail = thumbnail
            self.job_changed.emit(key)
        self.history_changed.emit()
