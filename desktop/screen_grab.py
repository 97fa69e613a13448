"""Reading the screen on Wayland, where an application may not (QScreen.grabWindow returns
nothing there): the xdg-desktop-portal Screenshot interface, asked on a thread. On X11, Windows
and macOS Qt reads it at once (desktop.capture.grab_with_qt); `platform_grabber` picks one."""

from __future__ import annotations

import threading

from PySide6.QtCore import QEventLoop, QObject, Signal
from PySide6.QtGui import QImage

from desktop.capture import Grabber, grab_with_qt
from desktop.core.portal import (
    Portal,
    PortalCancelled,
    PortalError,
    PortalMissing,
    PortalStopped,
)

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


def grab_with_portal() -> QImage:
    """The capture's Grabber contract (desktop.capture) over the portal: the screen, or a null
    image when the portal refused, failed or the user declined. The portal's dialog is answered
    while a local event loop runs."""
    grabber = PortalScreenGrabber()
    loop = QEventLoop()
    shot = QImage()

    def grabbed(image: QImage) -> None:
        nonlocal shot
        shot = image
        loop.quit()

    grabber.grabbed.connect(grabbed)
    grabber.failed.connect(loop.quit)
    grabber.cancelled.connect(loop.quit)
    grabber.grab()
    loop.exec()
    grabber.close()
    return shot


def platform_grabber(platform_name: str) -> Grabber:
    """`platform_name` is QGuiApplication.platformName()."""
    return grab_with_portal if platform_name == "wayland" else grab_with_qt
