"""The screen-grab seam: read the whole screen, asynchronously, whatever the platform. On X11,
Windows and macOS Qt reads it at once; on Wayland an application may not (QScreen.grabWindow
returns nothing there), so the xdg-desktop-portal Screenshot interface is asked, on a thread."""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QCursor, QGuiApplication, QImage

from desktop.core.portal import (
    Portal,
    PortalCancelled,
    PortalError,
    PortalMissing,
    PortalStopped,
)

NO_SCREEN = "This system does not let picdrop capture the screen."
NO_SCREENSHOT_PORTAL = (
    "This desktop lets no application read the screen: picdrop needs the xdg-desktop-portal "
    "Screenshot interface (install your desktop's xdg-desktop-portal backend)."
)


class ScreenGrabber(QObject):
    grabbed = Signal(QImage)  # the whole screen (under the pointer, where Qt chooses)
    failed = Signal(str)  # a sentence for the user
    cancelled = Signal()  # the user declined (the portal's dialog): nothing to say

    def grab(self) -> None:
        raise NotImplementedError


class QtScreenGrabber(ScreenGrabber):
    def grab(self) -> None:
        screen = QGuiApplication.screenAt(QCursor.pos()) or QGuiApplication.primaryScreen()
        shot = screen.grabWindow(0) if screen is not None else None
        if shot is None or shot.isNull():
            self.failed.emit(NO_SCREEN)
        else:
            self.grabbed.emit(shot.toImage())


class PortalScreenGrabber(ScreenGrabber):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._portal: Portal | None = None
        self._thread: threading.Thread | None = None

    def grab(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return  # the portal's dialog is already up
        self._portal = Portal()
        self._thread = threading.Thread(
            target=self._run, args=(self._portal,), name="portal-screenshot", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        if self._thread is not None:
            self._portal.stop()
            self._thread.join()
            self._thread = None

    def _run(self, portal: Portal) -> None:
        try:
            portal.open()
            path = portal.screenshot()
            image = QImage(path)  # QImage (unlike QPixmap) may be made off the GUI thread
            if image.isNull():
                raise PortalError("The desktop's screenshot could not be read.")
            self.grabbed.emit(image)
        except PortalCancelled:
            self.cancelled.emit()
        except PortalMissing:
            self.failed.emit(NO_SCREENSHOT_PORTAL)
        except PortalStopped:
            pass  # close(): quitting
        except PortalError as exc:
            self.failed.emit(str(exc))
        finally:
            portal.close()


def screen_grabber(platform_name: str, parent: QObject | None = None) -> ScreenGrabber:
    """`platform_name` is QGuiApplication.platformName()."""
    if platform_name == "wayland":
        return PortalScreenGrabber(parent)
    return QtScreenGrabber(parent)
