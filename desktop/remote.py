"""What the running app does for other picdrop processes (the protocol is in `core.ipc`): a second
launch's files, the `picdrop` command's uploads (through the app's own queue and server) and its
clipboard requests.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import logging
import os
import uuid
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from desktop import __version__
from desktop.capture import CaptureMode
from desktop.capture_flow import CaptureFlow, Outcome
from desktop.clipboard import LinkCopier
from desktop.core.config import AfterCapture
from desktop.core.intake import BytesSource, FileSource, Source
from desktop.core.jobs import JobState
from desktop.core.links import LinkFormat
from desktop.instance import InstanceServer, Peer
from desktop.service import UploadService

log = logging.getLogger(__name__)


class RemoteRequests(QObject):
    open_files = Signal(list)  # list[Path]; empty: just show the window

    def __init__(
        self,
        server: InstanceServer,
        service: UploadService,
        copier: LinkCopier,
        parent: QObject | None = None,
        *,
        capture: CaptureFlow | None = None,
    ) -> None:
        super().__init__(parent)
        self.service = service
        self.copier = copier
        self.capture = capture
        server.request.connect(self._on_request)

    @Slot(object, object)
    def _on_request(self, peer: Peer, message: dict[str, Any]) -> None:
        cmd = message.get("cmd")
        try:
            if cmd == "ping":
                peer.send({"ok": True, "pid": os.getpid(), "version": __version__})
            elif cmd == "open":
                self.open_files.emit([Path(str(f)) for f in message.get("files") or []])
                peer.send({"ok": True})
            elif cmd == "copy":
                self.copier.copy_text(str(message.get("text") or ""), int(message.get("count", 1)))
                # The command recorded its uploads in the shared history database.
                self.service.notify_history_changed()
                peer.send({"ok": True})
            elif cmd == "upload":
                RemoteUpload(peer, self.service, self.copier, message, parent=self)
            elif cmd == "capture" and self.capture is not None:
                RemoteCapture(peer, self.capture, self.service, message, parent=self)
            else:
                peer.send({"ok": False, "error": f"unknown command {cmd!r}"})
        except (TypeError, ValueError, binascii.Error) as exc:
            peer.send({"ok": False, "error": f"bad {cmd} request: {exc}"})


def sources_of(items: list[dict[str, Any]]) -> list[Source]:
    sources: list[Source] = []
    for item in items:
        if "path" in item:
            sources.append(FileSource(Path(str(item["path"]))))
        else:
            data = base64.b64decode(str(item["data"]), validate=True)
            sources.append(
                BytesSource(data, str(item.get("name") or "image"), str(item.get("mime") or ""))
            )
    return sources


class RemoteUpload(QObject):
    """One `picdrop upload` run handed to the app: queued as one batch in the app's own queue
    (so the window and the tray show it), reported back line by line as it goes."""

    def __init__(
        self,
        peer: Peer,
        service: UploadService,
        copier: LinkCopier,
        request: dict[str, Any],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.peer = peer
        self.service = service
        self.copier = copier
        self.copy = bool(request.get("copy", True))
        self.format = LinkFormat.parse(str(request.get("format") or "url"), LinkFormat.URL)
        self.batch = uuid.uuid4().hex
        self.index: dict[str, int] = {}
        self._reported: set[str] = set()
        self._statuses: dict[str, str] = {}
        self._peer_alive = True
        sources = sources_of(list(request.get("items") or []))
        if not sources:
            peer.send({"event": "end", "copied": False})
            self.deleteLater()
            return
        copier.hold_batch(self.batch)  # the command's links are copied below, in its format
        service.job_progress.connect(self._on_progress)
        service.job_changed.connect(self._on_changed)
        service.job_done.connect(self._on_done)
        service.batch_finished.connect(self._on_batch_finished)
        peer.disconnected.connect(self._on_peer_gone)
        service.enqueue(sources, batch=self.batch, expires=request.get("expires") or None)
        self.index = {job.key: i for i, job in enumerate(service.queue.batch_jobs(self.batch))}

    def _send(self, message: dict[str, Any]) -> None:
        if self._peer_alive:
            self.peer.send(message)

    @Slot(str, "qint64", "qint64")
    def _on_progress(self, key: str, sent: int, total: int) -> None:
        if key in self.index:
            self._send(
                {"event": "progress", "index": self.index[key], "sent": sent, "total": total}
            )

    @Slot(str)
    def _on_changed(self, key: str) -> None:
        if key not in self.index or key in self._reported:
            return
        job = self.service.job(key)
        if job.state in (JobState.FAILED, JobState.CANCELLED):
            self._reported.add(key)
            error = job.error if job.state is JobState.FAILED else "Cancelled in the picdrop app."
            self._send(
                {
                    "event": "failed",
                    "index": self.index[key],
                    "name": job.name,
                    "error": error,
                    "unreachable": job.unreachable,
                }
            )
        elif job.status and job.status != self._statuses.get(key):
            self._statuses[key] = job.status
            self._send({"event": "status", "index": self.index[key], "text": job.status})

    @Slot(str)
    def _on_done(self, key: str) -> None:
        if key not in self.index or key in self._reported:
            return
        self._reported.add(key)
        job = self.service.job(key)
        assert job.result is not None
        self._send(
            {
                "event": "done",
                "index": self.index[key],
                "name": job.name,
                "result": dataclasses.asdict(job.result),
            }
        )

    @Slot(str)
    def _on_batch_finished(self, batch: str) -> None:
        if batch != self.batch:
            return
        copied = False
        infos = self.service.batch_links(batch)
        if self.copy and infos:
            self.copier.copy_infos(infos, self.format)
            copied = True
        jobs = self.service.queue.batch_jobs(batch)
        server = jobs[0].destination if jobs else ""  # for the command's album
        self._send({"event": "end", "copied": copied, "server": server})
        self._finish()

    @Slot()
    def _on_peer_gone(self) -> None:
        # The command was interrupted (Ctrl+C): what it asked for is no longer wanted.
        self._peer_alive = False
        for key in self.index:
            if key in self.service.queue and not self.service.job(key).state.finished:
                self.service.cancel(key)

    def _finish(self) -> None:
        self.service.job_progress.disconnect(self._on_progress)
        self.service.job_changed.disconnect(self._on_changed)
        self.service.job_done.disconnect(self._on_done)
        self.service.batch_finished.disconnect(self._on_batch_finished)
        if self._peer_alive:
            self.peer.disconnected.disconnect(self._on_peer_gone)
            self.peer.close()
        self.deleteLater()


MAX_DELAY_S = 600


class RemoteCapture(QObject):
    """One `picdrop capture` run: the app captures (and edits, when Settings say so) and tells
    the command how it ended: {"event": "done", "result": …}, "copied", "saved", "cancelled" or
    "failed", then the connection closes."""

    def __init__(
        self,
        peer: Peer,
        flow: CaptureFlow,
        service: UploadService,
        request: dict[str, Any],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.peer = peer
        self.flow = flow
        self.service = service
        self.key = ""
        mode = CaptureMode(str(request.get("mode")))
        delay = min(MAX_DELAY_S, max(0.0, float(request.get("delay") or 0)))
        after = None if request.get("upload", True) else AfterCapture.COPY
        flow.outcome.connect(self._on_outcome)
        if not flow.start_capture(mode, delay, after):
            self._end({"event": "failed", "error": "A capture is already under way."})

    @Slot(str, str)
    def _on_outcome(self, kind: str, detail: str) -> None:
        if kind == Outcome.UPLOADING:
            self.key = detail
            self.service.job_done.connect(self._on_job)
            self.service.job_changed.connect(self._on_job)
        elif kind == Outcome.FAILED:
            self._end({"event": "failed", "error": detail})
        else:
            self._end({"event": kind, "detail": detail})

    @Slot(str)
    def _on_job(self, key: str) -> None:
        if key != self.key or key not in self.service.queue:
            return
        job = self.service.job(key)
        if job.state is JobState.DONE and job.result is not None:
            self._end({"event": "done", "name": job.name, "result": dataclasses.asdict(job.result)})
        elif job.state in (JobState.FAILED, JobState.CANCELLED):
            error = job.error if job.state is JobState.FAILED else "Cancelled in the picdrop app."
            self._end({"event": "failed", "error": error, "unreachable": job.unreachable})

    def _end(self, message: dict[str, Any]) -> None:
        self.flow.outcome.disconnect(self._on_outcome)
        if self.key:
            self.service.job_done.disconnect(self._on_job)
            self.service.job_changed.disconnect(self._on_job)
            self.key = ""
        self.peer.send(message)
        self.peer.close()
        self.deleteLater()
