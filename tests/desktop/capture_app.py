"""The picdrop app for the capture tests, under an X server:
`python capture_app.py SERVER_URL DATA_DIR AFTER_CAPTURE`.

The real PicdropApp (its instance socket included, so `picdrop capture` reaches it), settings in
an INI file in DATA_DIR. It reports on stdout, one JSON object a line, what the test waits for:
{"ready": [x, y, w, h]}, the main window's frame once shown; {"overlay": [x, y, w, h]} once the
overlay is on screen; {"editor": [x, y]}, the editor canvas's top-left on screen, once it is;
{"changed": n} after each edit in the editor."""

import json
import sys
from pathlib import Path

from PySide6.QtCore import QSettings, QTimer

from desktop.app import PicdropApp, create_qt_app
from desktop.core.config import AppConfig
from desktop.core.ipc import instance_address
from desktop.gc_guard import GuiThreadCollector
from desktop.instance import claim
from desktop.settings import SettingsStore


def say(**message) -> None:
    print(json.dumps(message), flush=True)


def when_exposed(widget, report) -> None:
    handle = widget.windowHandle()
    if handle is None or not handle.isExposed():
        QTimer.singleShot(20, lambda: when_exposed(widget, report))
        return
    QTimer.singleShot(100, report)  # a moment for the window manager to settle it


server, data_dir, after = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
qt_app = create_qt_app(sys.argv[:1])
collector = GuiThreadCollector(qt_app)
qsettings = QSettings(str(data_dir / "settings.ini"), QSettings.Format.IniFormat)
SettingsStore(qsettings).save(AppConfig(server_url=server, after_capture=after))
app = PicdropApp(
    qt_app,
    data_dir=data_dir,
    qsettings=qsettings,
    instance=claim(instance_address(data_dir)),
    tray_available=False,
)


def on_overlay(overlay) -> None:
    def report() -> None:
        g = overlay.geometry()
        say(overlay=[g.x(), g.y(), g.width(), g.height()])

    when_exposed(overlay, report)


def on_editor(editor) -> None:
    edits = iter(range(1, 1000))
    editor.changed.connect(lambda: say(changed=next(edits)))

    def report() -> None:
        origin = editor.canvas.mapToGlobal(editor.canvas.rect().topLeft())
        say(editor=[origin.x(), origin.y()])

    when_exposed(editor, report)


app.capture_flow.capture.overlay_shown.connect(on_overlay)
app.capture_flow.editor_shown.connect(on_editor)
app.start()
# Beside the known window the tests capture (at +40+60, 240x160), all of it on the 1024x768
# screen (the window is kept inside its screen).
app.window.resize(660, 480)
app.window.move(330, 270)


def ready() -> None:
    g = app.window.frameGeometry()
    say(ready=[g.x(), g.y(), g.width(), g.height()])


when_exposed(app.window, ready)
status = qt_app.exec()
collector.stop()
sys.exit(status)
