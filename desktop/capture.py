"""Capturing the screen for the tray's "Capture screen…": freeze the screen under the pointer,
let the user pick a region on the overlay, hand back a PNG to upload."""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, QTimer, Signal, Slot
from PySide6.QtGui import QCursor, QGuiApplication, QImage

from desktop.ui.capture import CaptureOverlay
from desktop.ui.mime import encode_png

# The tray menu closes as its action fires; give the panel a moment to repaint without it, so
# the frozen screen does not show the menu.
GRAB_DELAY_MS = 250


class ScreenCapture(QObject):
    captured = Signal(bytes, str)  # PNG bytes, a file name for them
    failed = Signal(str)
    overlay_shown = Signal(object)  # the CaptureOverlay (tests and screenshots drive it)

    def __init__(self, parent: QObject | None = None, delay_ms: int = GRAB_DELAY_MS) -> None:
        super().__init__(parent)
        self.delay_ms = delay_ms
        self.overlay: CaptureOverlay | None = None

    def start(self, *, full_screen: bool = False) -> None:
        if self.overlay is not None:  # already choosing
            self.overlay.raise_()
            return
        QTimer.singleShot(self.delay_ms, lambda: self._grab(full_screen))

    def _grab(self, full_screen: bool) -> None:
        screen = QGuiApplication.screenAt(QCursor.pos()) or QGuiApplication.primaryScreen()
        shot = screen.grabWindow(0) if screen is not None else None
        if shot is None or shot.isNull():
            # Wayland and some sandboxes do not let applications read the screen.
            self.failed.emit("This system does not let picdrop capture the screen.")
            return
        if full_screen:
            self._deliver(shot.toImage())
            return
        overlay = CaptureOverlay(shot, screen.geometry())
        overlay.captured.connect(self._deliver)
        overlay.destroyed.connect(self._forget_overlay)
        self.overlay = overlay
        overlay.show()
        self.overlay_shown.emit(overlay)

    @Slot()
    def _forget_overlay(self) -> None:
        self.overlay = None

    @Slot(QImage)
    def _deliver(self, image: QImage) -> None:
        name = time.strftime("screenshot-%Y-%m-%d-%H%M%S.png")
        self.captured.emit(encode_png(image), name)
