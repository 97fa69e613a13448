"""UploadService: owns the upload jobs and runs them on an app-owned thread pool.

Workers do the blocking work (read, strip, record, send) and report back through private signals,
which Qt delivers on the GUI thread; every decision about a job's state is made there, so the
window, the tray and the CLI only listen. QtCore only: a CLI can use it without widgets.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path

from PySide6.QtCore import QObject, QThreadPool, Signal, Slot

from desktop.core.api import (
    ApiError,
    BadAnswer,
    CancelToken,
    PicdropClient,
    PicdropError,
    ServerUnreachable,
    UploadCancelled,
    UploadResult,
)
from desktop.core.history import HistoryItem, HistoryStore
from desktop.core.intake import (
    BytesSource,
    FileSource,
    IntakeError,
    Source,
    UrlSource,
    download_image,
    expand_paths,
)
from desktop.core.jobs import DEFAULT_PARALLEL, Job, JobQueue, JobState, new_key
from desktop.core.links import LinkInfo
from desktop.core.prepare import Prepared, prepare, row_thumbnail
from desktop.core.printable import printable
from desktop.core.retry import RetryPolicy
from desktop.core.thumbnailer import Thumbnailer
from desktop.core.uploader import SpeedMeter, describe_error, describe_wait, upload_with_retry

log = logging.getLogger(__name__)

# Progress reports are throttled to this interval (the last one, at 100 %, always goes out).
PROGRESS_INTERVAL = 0.05


class UploadService(QObject):
    # Public: what listeners react to. Keys are job keys (str).
    job_added = Signal(str)
    job_changed = Signal(str)  # state, status line, error, result, thumbnail
    job_removed = Signal(str)
    job_progress = Signal(str, "qint64", "qint64")  # key, bytes sent, bytes total
    job_done = Signal(str)
    batch_finished = Signal(str)  # batch id; every job of it has finished
    history_changed = Signal()
    paused_changed = Signal(bool)
    connection_tested = Signal(str, bool, str)  # server URL, reachable, sentence

    # Private: worker -> GUI thread. `run` tags which try a report belongs to, so a report
    # from a try that was cancelled and retried meanwhile is ignored.
    _expanded = Signal(str, list)  # batch, paths
    _prepared = Signal(str, object)
    _thumbnailed = Signal(str, object)  # key, PNG bytes
    _prepare_failed = Signal(str, str)
    _sending = Signal(str, int, "qint64", "qint64")
    _waiting = Signal(str, int, str)
    _succeeded = Signal(str, int, object)
    _failed = Signal(str, int, str, bool)  # key, run, message, server unreachable
    _stopped = Signal(str, int)
    _deleted = Signal(str, str)  # key, error ("" when deleted)

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
        self.server_url = server_url.rstrip("/")
        self.strip_metadata = strip_metadata
        self.policy = policy or RetryPolicy()
        self.client_factory = client_factory
        self.queue = JobQueue(parallel)
        self._tokens: dict[str, CancelToken] = {}
        self._runs: dict[str, int] = {}
        self._meters: dict[str, SpeedMeter] = {}
        self._stopping = False
        self._paused = False
        # Thumbnails are made by one low-priority thread while the uploads run; a batch is
        # reported finished once its jobs have theirs (or gave up on them), so a finished batch
        # shows every thumbnail, in the queue and in history.
        self._thumbnailer = Thumbnailer(self._row_thumbnail)
        self._thumbnail_pending: set[str] = set()
        self._batches_waiting: set[str] = set()
        # App-owned, not QThreadPool.globalInstance(): quitting waits for exactly our workers.
        self.pool = QThreadPool(self)
        self._resize_pool()

        self._expanded.connect(self._on_expanded)
        self._prepared.connect(self._on_prepared)
        self._thumbnailed.connect(self._on_thumbnailed)
        self._prepare_failed.connect(self._on_prepare_failed)
        self._sending.connect(self._on_sending)
        self._waiting.connect(self._on_waiting)
        self._succeeded.connect(self._on_succeeded)
        self._failed.connect(self._on_failed)
        self._stopped.connect(self._on_stopped)
        self._deleted.connect(self._on_deleted)

    # -- configuration ------------------------------------------------------------------------
    @property
    def parallel(self) -> int:
        return self.queue.parallel

    def set_parallel(self, parallel: int) -> None:
        self.queue.parallel = max(1, parallel)
        self._resize_pool()
        self._schedule()

    def set_server(self, server_url: str) -> None:
        self.server_url = server_url.rstrip("/")

    def _resize_pool(self) -> None:
        # Uploads are capped by the queue; two more threads keep preparing and deleting moving.
        self.pool.setMaxThreadCount(self.queue.parallel + 2)

    # -- intake -------------------------------------------------------------------------------
    def enqueue_paths(self, paths: Iterable[Path]) -> str:
        """Files and folders (expanded to their images in a worker); returns the batch id."""
        batch = uuid.uuid4().hex
        paths = [Path(p) for p in paths]
        self._start(lambda: self._expanded.emit(batch, expand_paths(paths)))
        return batch

    def enqueue_bytes(self, data: bytes, name: str = "pasted-image.png", mime: str = "") -> str:
        return self.enqueue([BytesSource(data, name, mime)])

    def enqueue_url(self, url: str) -> str:
        return self.enqueue([UrlSource(url)])

    def enqueue(
        self, sources: Iterable[Source], batch: str = "", *, expires: str | None = None
    ) -> str:
        """Queue one batch; returns its id. Rows appear at once; preparing (reading, stripping,
        recording in history) happens in a worker. `expires`: the lifetime asked of the server."""
        batch = batch or uuid.uuid4().hex
        for source in sources:
            size = len(source.data) if isinstance(source, BytesSource) else 0
            job = self.queue.add(
                Job(key=new_key(), name=source.name, batch=batch, size=size, expires=expires)
            )
            self._runs[job.key] = 0
            self._thumbnail_pending.add(job.key)
            self.job_added.emit(job.key)
            self._start(
                lambda j=job, src=source, srv=self.server_url: self._prepare_worker(j, src, srv)
            )
        return batch

    def resume_unfinished(self) -> list[str]:
        """Put back what a previous run left queued or half-sent (same keys: no duplicates)."""
        keys = []
        for item in self.history.unfinished():
            if item.key in self.queue:
                continue
            job = self._job_from_history(item)
            job.ready = True
            self.queue.add(job)
            self._runs[job.key] = 0
            keys.append(job.key)
            self.job_added.emit(job.key)
        self._schedule()
        return keys

    @staticmethod
    def _job_from_history(item: HistoryItem) -> Job:
        return Job(
            key=item.key,
            idem_key=item.idem_key,
            name=item.name,
            batch=item.batch,
            size=item.size,
            removed=list(item.removed),
            thumbnail=item.thumbnail,
            created_at=item.created_at,
            expires=item.expires,
        )

    # -- user actions -------------------------------------------------------------------------
    def job(self, key: str) -> Job:
        return self.queue.get(key)

    def jobs(self) -> list[Job]:
        return list(self.queue)

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
        self.job_changed.emit(key)
        self.history_changed.emit()
        self._after_finish(job)

    def cancel_all(self) -> None:
        for job in self.jobs():
            if not job.state.finished:
                self.cancel(job.key)

    def retry(self, key: str) -> None:
        job = self.queue.get(key)
        if job.state not in (JobState.FAILED, JobState.CANCELLED) or not job.ready:
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
        self.job_changed.emit(key)
        self.history_changed.emit()
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
        self.paused_changed.emit(paused)
        self._schedule()

    def notify_history_changed(self) -> None:
        """Another process (the `picdrop` command) wrote to the history database."""
        self.history_changed.emit()

    def clear_finished(self) -> None:
        for job in self.jobs():
            if job.state.finished:
                self.queue.remove(job.key)
                self.job_removed.emit(job.key)

    def link_info(self, key: str) -> LinkInfo | None:
        job = self.queue.get(key)
        if job.result is None:
            return None
        return LinkInfo.from_mapping(job.result.__dict__, name=job.name)

    def batch_links(self, batch: str) -> list[LinkInfo]:
        infos = [self.link_info(j.key) for j in self.queue.batch_jobs(batch)]
        return [i for i in infos if i is not None]

    def delete_remote(self, key: str) -> None:
        """Delete an upload from its server with the stored token (History's "Delete")."""
        item = self.history.get(key)
        if item is None or not item.image_id or not item.delete_token:
            return
        self._start(lambda: self._delete_worker(item))

    def forget(self, key: str) -> None:
        self.history.forget(key)
        self.history_changed.emit()

    def test_connection(self, server_url: str) -> None:
        """Check a server in a worker; answers with `connection_tested`."""
        url = server_url.strip().rstrip("/") or self.server_url
        self._start(lambda: self._health_worker(url))

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        """Stop sending and wait for the workers. Unfinished jobs stay queued in history and are
        resumed on the next start."""
        self._stopping = True
        for token in self._tokens.values():
            token.cancel()
        done = self.pool.waitForDone(timeout_ms)
        self._thumbnailer.stop()
        return done

    # -- scheduling ---------------------------------------------------------------------------
    def _start(self, work: Callable[[], None]) -> None:
        self.pool.start(work)

    def _schedule(self) -> None:
        if self._stopping or self._paused:
            return
        for job in self.queue.next_to_start():
            self._runs[job.key] = run = self._runs.get(job.key, 0) + 1
            token = self._tokens[job.key] = CancelToken()
            job.state = JobState.UPLOADING
            job.status = ""
            self.history.set_state(job.key, JobState.UPLOADING, wait=False)
            self.job_changed.emit(job.key)
            server = self.server_url
            self._start(
                lambda j=job, r=run, t=token, s=server: self._upload_worker(
                    j.key, j.idem_key, j.name, r, t, s, j.expires
                )
            )

    def _after_finish(self, job: Job) -> None:
        self._tokens.pop(job.key, None)
        self._meters.pop(job.key, None)
        job.speed = 0.0
        self._report_batch(job.batch)
        self._schedule()

    # -- workers (run on pool threads: no Qt objects touched, only signals emitted) ------------
    def _prepare_worker(self, job: Job, source: Source, server: str) -> None:
        data = None
        try:
            data = self._prepare(job, source, server)
        finally:
            if data is None:  # nothing to make a thumbnail of: that job is done waiting for one
                self._thumbnailed.emit(job.key, None)
            else:  # after the upload has started, in the background
                self._thumbnailer.submit(job.key, data)

    def _row_thumbnail(self, key: str, data: bytes) -> None:
        thumbnail = None
        try:
            thumbnail = row_thumbnail(data)
            if thumbnail is not None:
                self.history.set_thumbnail(key, thumbnail)
        except Exception:  # only the row's picture is missing
            log.exception("thumbnail of %s failed", key)
        finally:
            self._thumbnailed.emit(key, thumbnail)

    def _prepare(self, job: Job, source: Source, server: str) -> bytes | None:
        """Read, strip and record one job; the bytes to send, or None when it failed."""
        try:
            if isinstance(source, FileSource):
                name, data = source.path.name, source.path.read_bytes()
            elif isinstance(source, UrlSource):
                fetched = download_image(source.url)
                name, data = fetched.name, fetched.data
            else:
                name, data = source.name, source.data
            # The thumbnail comes after the upload has started (below): it is for the rows only.
            prepared = prepare(name, data, strip=self.strip_metadata, thumbnail=False)
            # Recorded with its bytes before the first byte is sent: from here on a crash
            # cannot lose it, and a resumed try sends exactly the same body.
            self.history.add_queued(
                HistoryItem(
                    key=job.key,
                    idem_key=job.idem_key,
                    batch=job.batch,
                    name=name,
                    size=len(prepared.data),
                    mime=prepared.mime,
                    state=JobState.QUEUED,
                    server=server,
                    created_at=job.created_at,
                    removed=prepared.removed,
                    thumbnail=None,
                    expires=job.expires,
                ),
                prepared.data,
            )
        except IntakeError as exc:
            self._prepare_failed.emit(job.key, str(exc))
        except OSError as exc:
            self._prepare_failed.emit(job.key, f"Cannot read this file: {exc.strerror or exc}")
        except Exception as exc:  # a worker must always report back
            log.exception("preparing %s failed", job.key)
            self._prepare_failed.emit(job.key, f"Cannot prepare this file: {exc}")
        else:
            self._prepared.emit(job.key, (name, prepared))
            return prepared.data
        return None

    def _upload_worker(
        self,
        key: str,
        idem_key: str,
        name: str,
        run: int,
        token: CancelToken,
        server: str,
        expires: str | None = None,
    ) -> None:
        last_emit = 0.0

        def progress(sent: int, total: int) -> None:
            nonlocal last_emit
            now = time.monotonic()
            if sent >= total or sent == 0 or now - last_emit >= PROGRESS_INTERVAL:
                last_emit = now
                self._sending.emit(key, run, sent, total)

        def waiting(error: Exception, delay: float, attempt: int) -> None:
            self._waiting.emit(key, run, describe_wait(error, delay))

        client = self.client_factory(server)
        try:
            data = self.history.payload(key)
            if data is None:
                self._failed.emit(key, run, "The file to upload is no longer available.", False)
                return
            item = self.history.get(key)
            mime = item.mime if item else "application/octet-stream"
            result = upload_with_retry(
                client,
                data,
                name,
                mime,
                key=idem_key,
                policy=self.policy,
                cancel=token,
                progress=progress,
                waiting=waiting,
                expires=expires,
            )
        except UploadCancelled:
            self._stopped.emit(key, run)
        except PicdropError as exc:
            self._failed.emit(key, run, describe_error(exc), isinstance(exc, ServerUnreachable))
        except Exception as exc:  # a worker must always report back
            log.exception("upload %s failed", key)
            self._failed.emit(key, run, f"Unexpected error: {describe_error(exc)}", False)
        else:
            self._succeeded.emit(key, run, result)
        finally:
            client.close()

    def _health_worker(self, url: str) -> None:
        client = self.client_factory(url)
        try:
            health = client.health()
        except BadAnswer:
            said = printable(f"{url} answered, but not as picdrop.")
            self.connection_tested.emit(url, False, said)
        except PicdropError as exc:
            self.connection_tested.emit(url, False, describe_error(exc))
        else:
            version = health.get("version", "")
            version = printable(version) if isinstance(version, str) else ""
            self.connection_tested.emit(
                url, True, printable(f"Connected to picdrop {version} at {url}")
            )
        finally:
            client.close()

    def _delete_worker(self, item: HistoryItem) -> None:
        client = self.client_factory(item.server)
        try:
            assert item.image_id and item.delete_token
            client.delete(item.image_id, item.delete_token)
        except ApiError as exc:
            # Already gone (deleted elsewhere, expired) counts as deleted.
            self._deleted.emit(item.key, "" if exc.status == 404 else describe_error(exc))
        except PicdropError as exc:
            self._deleted.emit(item.key, describe_error(exc))
        else:
            self._deleted.emit(item.key, "")
        finally:
            client.close()

    # -- worker reports (GUI thread) ------------------------------------------------------------
    def _current(self, key: str, run: int) -> Job | None:
        if key not in self.queue or self._runs.get(key) != run:
            return None
        job = self.queue.get(key)
        return None if job.state is not JobState.UPLOADING else job

    @Slot(str, list)
    def _on_expanded(self, batch: str, paths: list[Path]) -> None:
        if not self._stopping:
            self.enqueue([FileSource(p) for p in paths], batch=batch)

    @Slot(str, object)
    def _on_prepared(self, key: str, payload: tuple[str, Prepared]) -> None:
        if key not in self.queue:
            return
        name, prepared = payload
        job = self.queue.get(key)
        job.name = name
        job.size = len(prepared.data)
        job.removed = prepared.removed
        job.thumbnail = prepared.thumbnail
        job.ready = True
        if job.state is JobState.CANCELLED:
            self.history.set_state(key, JobState.CANCELLED)
        self.job_changed.emit(key)
        self.history_changed.emit()
        self._schedule()

    @Slot(str, object)
    def _on_thumbnailed(self, key: str, thumbnail: bytes | None) -> None:
        self._thumbnail_pending.discard(key)
        if key not in self.queue:
            return
        job = self.queue.get(key)
        if thumbnail is not None:
            job.thumbnail = thumbnail
            self.job_changed.emit(key)
            self.history_changed.emit()
        if job.batch in self._batches_waiting:
            self._report_batch(job.batch)

    def _report_batch(self, batch: str) -> None:
        """batch_finished, once every job of the batch finished and has its thumbnail."""
        if not self.queue.batch_finished(batch):
            return
        if any(j.key in self._thumbnail_pending for j in self.queue.batch_jobs(batch)):
            self._batches_waiting.add(batch)
            return
        self._batches_waiting.discard(batch)
        self.batch_finished.emit(batch)

    @Slot(str, str)
    def _on_prepare_failed(self, key: str, message: str) -> None:
        if key not in self.queue:
            return
        job = self.queue.get(key)
        if job.state.finished:
            return
        job.state = JobState.FAILED
        job.error = message
        self.job_changed.emit(key)
        self._after_finish(job)

    @Slot(str, int, "qint64", "qint64")
    def _on_sending(self, key: str, run: int, sent: int, total: int) -> None:
        job = self._current(key, run)
        if job is None:
            return
        if job.status:
            job.status = ""  # a retry is sending again
            self.job_changed.emit(key)
        job.sent = sent
        job.size = total
        job.speed = self._meters.setdefault(key, SpeedMeter()).update(sent)
        self.job_progress.emit(key, sent, total)

    @Slot(str, int, str)
    def _on_waiting(self, key: str, run: int, message: str) -> None:
        job = self._current(key, run)
        if job is None:
            return
        job.status = message
        job.sent = 0
        self.job_changed.emit(key)

    @Slot(str, int, object)
    def _on_succeeded(self, key: str, run: int, result: UploadResult) -> None:
        job = self._current(key, run)
        if job is None:
            if key in self.queue and self.queue.get(key).state is JobState.CANCELLED:
                # Finished in the instant the user cancelled: honour the cancel.
                self._start(lambda: self._take_back(result))
            return
        job.state = JobState.DONE
        job.result = result
        job.sent = job.size
        job.status = job.error = ""
        self.history.set_done(key, result, wait=False)
        self.job_changed.emit(key)
        self.job_done.emit(key)
        self.history_changed.emit()
        self._after_finish(job)

    def _take_back(self, result: UploadResult) -> None:
        client = self.client_factory(self.server_url)
        try:
            client.delete(result.id, result.delete_token)
        except PicdropError:
            log.warning("could not delete cancelled upload %s", result.id)
        finally:
            client.close()

    @Slot(str, int, str, bool)
    def _on_failed(self, key: str, run: int, message: str, unreachable: bool) -> None:
        job = self._current(key, run)
        if job is None:
            return
        job.state = JobState.FAILED
        job.error = message
        job.unreachable = unreachable
        job.status = ""
        self.history.set_state(key, JobState.FAILED, message, wait=False)
        self.job_changed.emit(key)
        self.history_changed.emit()
        self._after_finish(job)

    @Slot(str, int)
    def _on_stopped(self, key: str, run: int) -> None:
        job = self._current(key, run)
        if job is None:
            return
        # Stopped by shutdown, not by the user: it stays queued (and is resumed next start).
        job.state = JobState.QUEUED
        self.history.set_state(key, JobState.QUEUED)
        self.job_changed.emit(key)

    @Slot(str, str)
    def _on_deleted(self, key: str, error: str) -> None:
        if error:
            self.history.set_state(key, JobState.DONE, f"Not deleted: {error}")
        else:
            self.history.set_state(key, JobState.DELETED)
            if key in self.queue:
                self.queue.get(key).state = JobState.DELETED
                self.job_changed.emit(key)
        self.history_changed.emit()
