"""The tray's adapter: it listens to the upload service (progress, finished and failed uploads)
and shows that on the tray icon, and turns the tray menu's intent into uploads.

Like the window, it only listens to the service and calls it; the two never talk to each other.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QUrl, Slot
from PySide6.QtGui import QClipboard, QDesktopServices

from desktop.capture_flow import CaptureFlow, Outcome
from desktop.clipboard import LinkCopier
from desktop.core.activity import Activity, Run, batch_note
from desktop.core.history import HistoryStore
from desktop.core.jobs import JobState
from desktop.service import UploadService
from desktop.ui.file_dialog import choose_images
from desktop.ui.mime import sources_from_mime
from desktop.ui.tray import RECENT_COUNT, RecentEntry, TrayIcon


class TrayController(QObject):
    def __init__(
        self,
        tray: TrayIcon,
        service: UploadService,
        history: HistoryStore,
        copier: LinkCopier,
        capture: CaptureFlow,
        clipboard: QClipboard,
        parent: QObject | None = None,
        destinations: Callable[[], tuple[list[str], str]] = lambda: ([], ""),
        enqueue: Callable[[list], object] | None = None,
        expiry: Callable[[], tuple[list[tuple[str, str]], str]] | None = None,
    ) -> None:
        super().__init__(parent)
        self.tray = tray
        self.service = service
        self.history = history
        self.copier = copier
        self.capture = capture
        self.clipboard = clipboard
        self.destinations = destinations  # (imported custom uploaders, the one in use)
        self._run = Run()
        # The window's way in, so the expiry chosen there applies to the tray's uploads too.
        self.enqueue = enqueue or service.enqueue
        self.expiry = expiry  # the window's expiry choices and the one chosen, shown in the menu
        self._last_page = ""

        tray.menu_opening.connect(self.refresh_menu)
        tray.upload_clipboard.connect(self.upload_clipboard)
        tray.upload_files.connect(self.upload_files)
        tray.capture_screen.connect(self.capture_screen)
        tray.recent_chosen.connect(self.copy_recent)
        tray.pause_toggled.connect(service.set_paused)
        tray.message_clicked.connect(self._open_last_page)
        capture.outcome.connect(self._on_capture_outcome)

        service.job_added.connect(self._on_job_added)
        service.job_changed.connect(self._on_job_changed)
        service.job_progress.connect(lambda *_: self.update_activity())
        service.job_removed.connect(self._on_job_removed)
        service.job_done.connect(lambda _key: self.update_activity())
        service.batch_finished.connect(self._on_batch_finished)
        service.paused_changed.connect(lambda _paused: self.update_activity())
        for job in service.jobs():
            self._on_job_added(job.key)
        self.update_activity()

    # -- state shown --------------------------------------------------------------------------
    def activity(self) -> Activity:
        jobs = [self.service.job(k) for k in self._run.keys if k in self.service.queue]
        return self._run.activity(jobs, paused=self.service.paused)

    def update_activity(self) -> None:
        self.tray.show_activity(self.activity())

    @Slot()
    def refresh_menu(self) -> None:
        recent = [
            RecentEntry(item.key, item.name, item.url or "", item.thumbnail, item.created_at)
            for item in self.history.recent_done(RECENT_COUNT)
        ]
        names, current = self.destinations()
        expiry = self.expiry() if self.expiry is not None else None
        self.tray.rebuild_menu(recent, self.service.paused, names, current, expiry)

    # -- intent -------------------------------------------------------------------------------
    @Slot()
    def upload_clipboard(self) -> None:
        mime = self.clipboard.mimeData()
        sources = sources_from_mime(mime) if mime is not None else []
        if not sources:
            self.notify("Nothing to upload", "The clipboard holds no image, file or link.")
            return
        self.enqueue(sources)

    @Slot()
    def upload_files(self) -> None:
        sources = choose_images()
        if sources:
            self.enqueue(sources)

    @Slot()
    def capture_screen(self) -> None:
        self.capture.start_capture()

    @Slot(str, str)
    def _on_capture_outcome(self, kind: str, detail: str) -> None:
        if kind == Outcome.FAILED:
            self.notify("Cannot capture the screen", detail, error=True)
        elif kind == Outcome.COPIED:
            self.notify("Image copied", "The image is on the clipboard.")

    @Slot(str)
    def copy_recent(self, key: str) -> None:
        item = self.history.get(key)
        info = item.link_info() if item else None
        if info is None:
            return
        self.copier.copy_infos([info])
        self.notify("Link copied", item.name, page=info.page_url)

    # -- service reports ----------------------------------------------------------------------
    @Slot(str)
    def _on_job_added(self, key: str) -> None:
        over = all(
            k not in self.service.queue or self.service.job(k).state.finished
            for k in self._run.keys
        )
        self._run.add(key, previous_over=over)
        self.update_activity()

    @Slot(str)
    def _on_job_removed(self, key: str) -> None:
        self._run.remove(key)
        self.update_activity()

    @Slot(str)
    def _on_job_changed(self, key: str) -> None:
        if key in self.service.queue:
            self.update_activity()

    @Slot(str)
    def _on_batch_finished(self, batch: str) -> None:
        """One notification per batch, with counts (automatic retries keep a job uploading,
        so a failure is only announced when it is final)."""
        jobs = self.service.queue.batch_jobs(batch)
        done = [j for j in jobs if j.state is JobState.DONE]
        note = batch_note(jobs, copied=bool(done) and self.copier.copies_job(done[0].key))
        if note is not None:
            info = self.service.link_info(done[-1].key) if done else None
            self.notify(note.title, note.text, page=info.page_url if info else "", error=note.error)
        self.update_activity()

    def notify(self, title: str, text: str, *, page: str = "", error: bool = False) -> None:
        """Show a notification; clicking it opens `page` (when there is one)."""
        self._last_page = page
        self.tray.notify(title, text, error=error)

    @Slot()
    def _open_last_page(self) -> None:
        if self._last_page:
            QDesktopServices.openUrl(QUrl(self._last_page))
