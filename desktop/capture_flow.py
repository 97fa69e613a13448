"""From "capture" to a result: `start_capture(mode)` is the one entry for the tray, global hotkeys
and the `picdrop capture` command. The captured image then goes where Settings say (the editor,
an upload at once, or the clipboard as an image); the editor's choice goes the same ways, and
uploads go through the one upload pipeline. `edit_image` opens the same editor on an image
already uploaded (the window's "Annotate / redact…"): its result is a new upload, like a capture's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QClipboard, QImage

from desktop.capture import CaptureMode, ScreenCapture
from desktop.core.config import AfterCapture, AppConfig
from desktop.core.intake import BytesSource
from desktop.service import UploadService
from desktop.ui.editor import MarkupEditor
from desktop.ui.mime import encode_png


class Outcome:
    """The kinds `CaptureFlow.outcome` reports, with what the detail holds."""

    UPLOADING = "uploading"  # the job's key
    COPIED = "copied"  # ""
    SAVED = "saved"  # the file's path
    CANCELLED = "cancelled"  # ""
    FAILED = "failed"  # why


class CaptureFlow(QObject):
    outcome = Signal(str, str)  # kind (Outcome), detail
    editor_shown = Signal(object)  # the MarkupEditor (tests and screenshots drive it)

    def __init__(
        self,
        capture: ScreenCapture,
        service: UploadService,
        clipboard: QClipboard,
        config: Callable[[], AppConfig],
        parent: QObject | None = None,
        *,
        expires: Callable[[], str | None] = lambda: None,
    ) -> None:
        super().__init__(parent)
        self.capture = capture
        self.service = service
        self.clipboard = clipboard
        self.config = config
        self.expires = expires  # the lifetime chosen for the next uploads (the window's)
        self.editor: MarkupEditor | None = None
        self._after = AfterCapture.EDITOR
        capture.captured.connect(self._on_captured)
        capture.cancelled.connect(lambda: self.outcome.emit(Outcome.CANCELLED, ""))
        capture.failed.connect(lambda why: self.outcome.emit(Outcome.FAILED, why))

    @Slot(str)
    def start_capture(
        self, mode: str = CaptureMode.REGION, delay_s: float = 0, after: AfterCapture | None = None
    ) -> bool:
        """Capture in `mode` (a CaptureMode value) after `delay_s` seconds, then do `after`
        (default: the Settings' choice). False when a capture or an edit is under way."""
        after = after or AfterCapture.parse(self.config().after_capture)
        if self.editor is not None:
            self.editor.raise_()
            return False
        if not self.capture.start(CaptureMode(mode), delay_s):
            return False  # the capture under way keeps its own choice
        self._after = after
        return True

    @Slot(QImage)
    def _on_captured(self, image: QImage) -> None:
        if self._after is AfterCapture.UPLOAD:
            self.upload(encode_png(image))
        elif self._after is AfterCapture.COPY:
            self.copy_image(image)
        else:
            self.open_editor(image)

    @Slot(QImage)
    def edit_image(self, image: QImage) -> bool:
        """Open the editor on `image`; False while a capture or an edit is under way."""
        if self.capture.busy:
            return False
        if self.editor is not None:
            self.editor.raise_()
            self.editor.activateWindow()
            return False
        self.open_editor(image, "edited")
        return True

    def open_editor(self, image: QImage, kind: str = "screenshot") -> MarkupEditor:
        """`kind` names what is edited, in the title and the uploaded file's name."""
        title = "Edit screenshot" if kind == "screenshot" else "Annotate and redact"
        editor = MarkupEditor(image, title)
        editor.upload_requested.connect(lambda png: self.upload(png, kind))
        editor.copy_requested.connect(self.copy_image)
        editor.save_requested.connect(self.save)
        editor.cancelled.connect(lambda: self.outcome.emit(Outcome.CANCELLED, ""))
        editor.destroyed.connect(self._forget_editor)
        self.editor = editor
        editor.show()
        editor.raise_()
        editor.activateWindow()
        self.editor_shown.emit(editor)
        return editor

    @Slot()
    def _forget_editor(self) -> None:
        self.editor = None

    def upload(self, png: bytes, kind: str = "screenshot") -> None:
        name = time.strftime(f"{kind}-%Y-%m-%d-%H%M%S.png")
        batch = self.service.enqueue([BytesSource(png, name, "image/png")], expires=self.expires())
        (job,) = self.service.queue.batch_jobs(batch)
        self.outcome.emit(Outcome.UPLOADING, job.key)

    @Slot(QImage)
    def copy_image(self, image: QImage) -> None:
        self.clipboard.setImage(image)
        self.outcome.emit(Outcome.COPIED, "")

    @Slot(str, bytes)
    def save(self, path: str, png: bytes) -> None:
        try:
            Path(path).write_bytes(png)
        except OSError as exc:
            self.outcome.emit(Outcome.FAILED, f"Cannot save {path}: {exc.strerror}")
            return
        self.outcome.emit(Outcome.SAVED, path)
