"""Run the tray's "Capture screen…" for real, under an X server: `python tray_capture_app.py
SERVER_URL DATA_DIR`. Prints `overlay X Y W H` once the frozen overlay is on screen (the test
then drags a region with xdotool), then the finished upload as one JSON line, and exits."""

import json
import sys
from pathlib import Path

from PySide6.QtCore import QTimer

from desktop.app import create_qt_app
from desktop.capture import ScreenCapture
from desktop.clipboard import LinkCopier
from desktop.core.config import AppConfig
from desktop.core.history import HistoryStore
from desktop.gc_guard import GuiThreadCollector
from desktop.service import UploadService
from desktop.tray_controller import TrayController
from desktop.ui.tray import TrayIcon

app = create_qt_app(sys.argv[:1])
collector = GuiThreadCollector(app)
history = HistoryStore(Path(sys.argv[2]) / "history.sqlite3")
service = UploadService(history, sys.argv[1])
config = AppConfig()
copier = LinkCopier(service, app.clipboard(), lambda: config)
tray = TrayIcon()  # not shown: no tray host is needed to trigger its menu entry
capture = ScreenCapture()
controller = TrayController(tray, service, history, copier, capture, app.clipboard())


def when_exposed(overlay) -> None:
    handle = overlay.windowHandle()
    if handle is None or not handle.isExposed():
        QTimer.singleShot(20, lambda: when_exposed(overlay))
        return
    g = overlay.geometry()
    print(f"overlay {g.x()} {g.y()} {g.width()} {g.height()}", flush=True)


def finished(key: str) -> None:
    job = service.job(key)
    print(json.dumps({"name": job.name, "url": job.result.url}), flush=True)
    app.exit(0)


def failed(message: str) -> None:
    print(f"failed {message}", flush=True)
    app.exit(1)


capture.overlay_shown.connect(when_exposed)
capture.failed.connect(failed)
service.job_done.connect(finished)
service.job_changed.connect(lambda key: service.job(key).error and failed(service.job(key).error))
QTimer.singleShot(0, tray.action("Capture screen…").trigger)
QTimer.singleShot(60_000, lambda: failed("timed out"))
status = app.exec()
service.shutdown()
history.close()
collector.stop()
sys.exit(status)
