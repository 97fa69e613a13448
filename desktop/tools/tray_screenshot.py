"""Screenshot of the tray icon with its menu open, for docs/screenshots/tray-menu.png.

    python -m desktop.tools.tray_screenshot [--out docs/screenshots]

Under a real X server (Xvfb, started here when no DISPLAY is set) with a real tray host (Debian's
`trayer`, started here): uploads a few sample pictures to the built-in server so the menu lists
recent uploads, shows the progress ring, right-clicks the tray icon (xdotool, a real click; the
menu is popped up directly when xdotool is missing) and saves the top-right corner of the screen.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from desktop.tools.screenshot import (
    REPO,
    sample_images,
    settle,
    wait_for,
    wait_until,
    x_display,
)

SCREEN = "1280x800"
PANEL_HEIGHT = 30
PANEL_COLOR = "0x1f2126"
# A dark top panel across the screen, the tray area at its right end.
TRAYER_OPTIONS = [
    "--edge", "top", "--align", "right", "--widthtype", "percent", "--width", "100",
    "--height", str(PANEL_HEIGHT), "--transparent", "true", "--alpha", "0",
    "--tint", PANEL_COLOR, "--SetDockType", "true", "--padding", "8", "--iconspacing", "6",
]  # fmt: skip


def start_trayer() -> subprocess.Popen:
    trayer = shutil.which("trayer")
    if trayer is None:
        raise SystemExit("trayer is not installed (apt-get install trayer)")
    return subprocess.Popen(
        [trayer, *TRAYER_OPTIONS],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_for_tray(timeout: float = 20.0) -> bool:
    from PySide6.QtWidgets import QSystemTrayIcon

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if QSystemTrayIcon.isSystemTrayAvailable():
            return True
        settle(100)
    return False


def wallpaper():
    """A full-screen backdrop behind everything, so the picture looks like a desktop."""
    from PySide6.QtCore import QPointF, Qt
    from PySide6.QtGui import QColor, QGuiApplication, QLinearGradient, QPainter
    from PySide6.QtWidgets import QWidget

    class Wallpaper(QWidget):
        def paintEvent(self, event) -> None:
            painter = QPainter(self)
            gradient = QLinearGradient(QPointF(0, 0), QPointF(self.width(), self.height()))
            gradient.setColorAt(0.0, QColor("#3a4a7a"))
            gradient.setColorAt(0.55, QColor("#6b5aa8"))
            gradient.setColorAt(1.0, QColor("#d98c8c"))
            painter.fillRect(self.rect(), gradient)
            painter.end()

    widget = Wallpaper(None, Qt.WindowType.FramelessWindowHint)
    widget.setGeometry(QGuiApplication.primaryScreen().geometry())
    widget.show()
    return widget


def capture(out_dir: Path) -> Path:
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    from PySide6.QtCore import QPoint, QRect
    from PySide6.QtGui import QCursor, QGuiApplication

    from desktop.app import create_qt_app
    from desktop.capture import ScreenCapture
    from desktop.capture_flow import CaptureFlow
    from desktop.clipboard import LinkCopier
    from desktop.core.activity import Activity
    from desktop.core.config import AppConfig
    from desktop.core.history import HistoryStore
    from desktop.core.intake import file_sources
    from desktop.embedded import start_embedded_server
    from desktop.service import UploadService
    from desktop.tray_controller import TrayController
    from desktop.ui.tray import TrayIcon

    app = create_qt_app(sys.argv[:1])
    backdrop = wallpaper()
    settle(200)
    trayer = start_trayer()
    try:
        if not wait_for_tray():
            raise SystemExit("no system tray appeared (is trayer working?)")
        with tempfile.TemporaryDirectory(prefix="picdrop-tray-shot-") as tmp:
            tmp_path = Path(tmp)
            server = start_embedded_server(tmp_path / "server")
            history = HistoryStore(tmp_path / "history.sqlite3")
            try:
                uploads = UploadService(history, server.url)
                pictures = sample_images(tmp_path / "pictures")
                files = [f for f in pictures if f.suffix not in (".bmp", ".txt")]
                uploads.enqueue(file_sources(files))
                wait_for(uploads.batch_finished)
                wait_until(lambda: all(item.thumbnail for item in history.recent_done(5)))

                config = AppConfig()
                copier = LinkCopier(uploads, app.clipboard(), lambda: config)
                tray = TrayIcon()
                flow = CaptureFlow(ScreenCapture(), uploads, app.clipboard(), lambda: config)
                controller = TrayController(tray, uploads, history, copier, flow, app.clipboard())
                tray.show()
                # A run in progress, as it looks mid-way (the uploads above are long done).
                tray.show_activity(Activity(total=5, uploading=2, waiting=1, done=2, percent=48))
                settle(800)
                icon = tray.tray.geometry()
                if icon.isEmpty():
                    raise SystemExit("the tray icon has no place on the panel")
                open_menu(tray, icon)
                settle(600)
                menu = tray.menu.geometry()
                screen = QGuiApplication.primaryScreen()
                full = screen.geometry()
                left = max(0, min(menu.left(), icon.left()) - 220)
                bottom = min(full.height(), menu.bottom() + 40)
                region = QRect(left, 0, full.width() - left, bottom)
                QCursor.setPos(QPoint(menu.left() + 40, menu.top() + 14))
                settle(300)
                shot = screen.grabWindow(0, region.x(), region.y(), region.width(), region.height())
                out_dir.mkdir(parents=True, exist_ok=True)
                path = out_dir / "tray-menu.png"
                shot.save(str(path))
                tray.menu.hide()
                tray.close()
                uploads.shutdown()
                for obj in (controller, tray, copier, uploads):
                    obj.deleteLater()
                settle(50)
            finally:
                history.close()
                server.stop()
    finally:
        backdrop.close()
        trayer.terminate()
        trayer.wait()
    return path


def open_menu(tray, icon) -> None:
    """A real right-click on the icon when xdotool is there (the menu opens as for a user)."""
    from PySide6.QtCore import QPoint

    xdotool = shutil.which("xdotool")
    # Clicked at its lower edge, so the menu (which opens at the pointer) starts below the panel.
    centre = QPoint(icon.center().x(), icon.bottom())
    if xdotool is not None:
        subprocess.run(
            [xdotool, "mousemove", str(centre.x()), str(centre.y()), "click", "3"],
            check=True,
            timeout=30,
        )
        deadline = time.monotonic() + 10
        while not tray.menu.isVisible() and time.monotonic() < deadline:
            settle(50)
    if not tray.menu.isVisible():
        tray.menu.popup(QPoint(centre.x() - tray.menu.sizeHint().width() + 12, icon.bottom() + 2))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    args = parser.parse_args(argv)
    with x_display(SCREEN):
        print(capture(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
