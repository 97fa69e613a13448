"""Capturing the screen: hide picdrop's own windows, wait (the asked delay, then a moment for the
desktop to repaint), read the whole desktop once through a grabber, and cut out what the mode
asks for — a region chosen on the frozen overlay, the window under the pointer, the monitor under
the pointer, or every monitor.

The grabber is a seam chosen once at startup: `grab_with_qt` reads the screens with
QScreen.grabWindow (X11, Windows, macOS); on Wayland, where that returns nothing, a portal
client takes its place. The window under the pointer comes from `window_at` the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from PySide6.QtCore import QObject, QRect, QTimer, Signal, Slot
from PySide6.QtGui import QCursor, QGuiApplication, QImage, QPainter
from PySide6.QtWidgets import QApplication, QWidget

from desktop.ui.capture import CaptureOverlay

# The tray menu closes as its action fires and our own windows are hidden before the grab; give
# the desktop a moment to repaint without them, so the frozen screen does not show them.
GRAB_DELAY_MS = 250

# The whole desktop (every monitor) in device pixels, or a null QImage when the system refuses.
Grabber = Callable[[], QImage]
# The window under the pointer: its rectangle in the grabbed image's pixels, or None.
WindowLocator = Callable[[], QRect | None]


class CaptureMode(StrEnum):
    REGION = "region"  # chosen on the overlay
    WINDOW = "window"  # the window under the pointer
    SCREEN = "screen"  # the monitor under the pointer
    ALL_SCREENS = "all"  # every monitor


def desktop_geometry() -> QRect:
    """The virtual desktop (all monitors), in logical pixels."""
    area = QRect()
    for screen in QGuiApplication.screens():
        area = area.united(screen.geometry())
    return area


def grab_with_qt() -> QImage:
    """Every monitor, painted into one image at the highest device pixel ratio among them."""
    screens = QGuiApplication.screens()
    if not screens:
        return QImage()
    area = desktop_geometry()
    ratio = max(s.devicePixelRatio() for s in screens)
    image = QImage(round(area.width() * ratio), round(area.height() * ratio),
                   QImage.Format.Format_RGB32)  # fmt: skip
    image.fill(0)
    grabbed = False
    painter = QPainter(image)
    for screen in screens:
        shot = screen.grabWindow(0)
        if shot.isNull():
            continue
        grabbed = True
        g = screen.geometry().translated(-area.topLeft())
        painter.drawPixmap(device_rect(g, ratio), shot)
    painter.end()
    return image if grabbed else QImage()


def window_at() -> QRect | None:
    """On X11, the top-level window under the pointer (its frame, with a window manager)."""
    if QGuiApplication.platformName() != "xcb":
        return None
    from Xlib import X, display, error

    try:
        connection = display.Display()
    except (error.DisplayError, OSError):
        return None
    try:
        root = connection.screen().root
        child = root.query_pointer().child
        if child == X.NONE:  # the pointer is over the bare desktop
            return None
        geometry = child.get_geometry()
        origin = root.translate_coords(child, 0, 0)
        return QRect(origin.x, origin.y, geometry.width, geometry.height)
    except error.XError:
        return None
    finally:
        connection.close()


def device_rect(rect: QRect, ratio: float) -> QRect:
    return QRect(round(rect.x() * ratio), round(rect.y() * ratio),
                 round(rect.width() * ratio), round(rect.height() * ratio))  # fmt: skip


class ScreenCapture(QObject):
    captured = Signal(QImage)  # the chosen pixels, device resolution
    cancelled = Signal()
    failed = Signal(str)
    overlay_shown = Signal(object)  # the CaptureOverlay (tests and screenshots drive it)

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        grab: Grabber = grab_with_qt,
        locate_window: WindowLocator = window_at,
        settle_ms: int = GRAB_DELAY_MS,
    ) -> None:
        super().__init__(parent)
        self.grab = grab
        self.locate_window = locate_window
        self.settle_ms = settle_ms
        self.overlay: CaptureOverlay | None = None
        self.busy = False
        self._hidden: list[QWidget] = []

    def start(self, mode: CaptureMode = CaptureMode.REGION, delay_s: float = 0) -> bool:
        """Begin a capture; False (and the overlay raised) when one is under way already."""
        if self.busy:
            if self.overlay is not None:
                self.overlay.raise_()
            return False
        self.busy = True
        self._hide_own_windows()
        QTimer.singleShot(round(delay_s * 1000) + self.settle_ms, lambda: self._grab(mode))
        return True

    def _hide_own_windows(self) -> None:
        app = QApplication.instance()
        widgets = app.topLevelWidgets() if isinstance(app, QApplication) else []
        self._hidden = [w for w in widgets if w.isVisible()]
        for widget in self._hidden:
            widget.hide()

    def _show_own_windows(self) -> None:
        hidden, self._hidden = self._hidden, []
        for widget in hidden:
            widget.show()

    def _grab(self, mode: CaptureMode) -> None:
        shot = self.grab()
        # Looked up while picdrop's windows are still hidden: the window the user pointed at.
        window = self.locate_window() if mode is CaptureMode.WINDOW else None
        self._show_own_windows()
        if shot.isNull():
            # Wayland without a portal, and some sandboxes, do not let applications read it.
            self._end()
            self.failed.emit("This system does not let picdrop capture the screen.")
            return
        area = desktop_geometry()
        if mode is CaptureMode.REGION:
            self._choose_region(shot, area)
            return
        part = shot.rect()
        if mode is not CaptureMode.ALL_SCREENS:
            # No window found (or not asked for): the monitor under the pointer.
            screen = QGuiApplication.screenAt(QCursor.pos()) or QGuiApplication.primaryScreen()
            ratio = shot.width() / max(1, area.width())
            part = window or device_rect(screen.geometry().translated(-area.topLeft()), ratio)
        self._deliver(shot.copy(part.intersected(shot.rect())))

    def _choose_region(self, shot: QImage, area: QRect) -> None:
        overlay = CaptureOverlay(shot, area)
        overlay.captured.connect(self._deliver)
        overlay.cancelled.connect(self._on_cancelled)
        overlay.destroyed.connect(self._forget_overlay)
        self.overlay = overlay
        overlay.show()
        self.overlay_shown.emit(overlay)

    @Slot()
    def _forget_overlay(self) -> None:
        self.overlay = None

    def _end(self) -> None:
        self.busy = False

    @Slot()
    def _on_cancelled(self) -> None:
        self._end()
        self.cancelled.emit()

    @Slot(QImage)
    def _deliver(self, image: QImage) -> None:
        self._end()
        self.captured.emit(image)
