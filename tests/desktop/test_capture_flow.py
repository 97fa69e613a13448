"""The capture flow offscreen, with the grab replaced (the seam a portal client uses): each capture
mode cuts the right pixels, the after-capture choice is followed, the editor's Save as and Copy
work; and `picdrop capture`'s exit statuses without an app."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from PySide6.QtCore import QRect
from PySide6.QtGui import QGuiApplication, QImage

from desktop.capture import CaptureMode, ScreenCapture
from desktop.capture_flow import CaptureFlow, Outcome
from desktop.commands import run
from desktop.commands.status import EXIT_UNREACHABLE, EXIT_USAGE
from desktop.core.config import AfterCapture, AppConfig
from desktop.ui.pil_qt import from_qimage, to_qimage
from tests.desktop.conftest import delete_qobject


def desktop_picture() -> Image.Image:
    size = QGuiApplication.primaryScreen().geometry().size()
    w, h = size.width(), size.height()
    return Image.frombytes("RGB", (w, h), bytes(range(251)) * (w * h * 3 // 251 + 1))


@pytest.fixture
def make_flow(qapp, make_service, live_server):
    made = []

    def make(after: str, window: QRect | None = None) -> CaptureFlow:
        picture = to_qimage(desktop_picture())
        capture = ScreenCapture(grab=lambda: picture, locate_window=lambda: window, settle_ms=0)
        config = AppConfig(after_capture=after)
        flow = CaptureFlow(capture, make_service(live_server.url), qapp.clipboard(), lambda: config)
        made.append(flow)
        return flow

    yield make
    for flow in made:
        if flow.editor is not None:
            delete_qobject(flow.editor)
        delete_qobject(flow)


@pytest.mark.parametrize(
    ("mode", "window", "box"),
    [
        (CaptureMode.ALL_SCREENS, None, None),
        (CaptureMode.SCREEN, None, None),  # one monitor offscreen: the whole of it
        (CaptureMode.WINDOW, QRect(30, 40, 120, 90), (30, 40, 150, 130)),
        (CaptureMode.WINDOW, None, None),  # no window found: the monitor under the pointer
    ],
)
def test_each_mode_copies_the_right_pixels(make_flow, qtbot, qapp, mode, window, box) -> None:
    flow = make_flow(AfterCapture.COPY, window)
    with qtbot.waitSignal(flow.outcome, timeout=5000) as outcome:
        assert flow.start_capture(mode)
    assert outcome.args == [Outcome.COPIED, ""]
    expected = desktop_picture() if box is None else desktop_picture().crop(box)
    copied = from_qimage(qapp.clipboard().image())
    assert copied.tobytes() == expected.tobytes()


def test_a_second_capture_while_one_runs_is_refused(make_flow, qtbot) -> None:
    flow = make_flow(AfterCapture.EDITOR)
    with qtbot.waitSignal(flow.capture.overlay_shown, timeout=5000) as shown:
        assert flow.start_capture(CaptureMode.REGION)
    assert not flow.start_capture(CaptureMode.SCREEN, after=AfterCapture.COPY)
    with qtbot.waitSignal(flow.editor_shown, timeout=5000):
        shown.args[0].finish()  # the first capture goes on as it was asked: to the editor
    assert not flow.start_capture(CaptureMode.SCREEN)  # nor while the editor is open
    with qtbot.waitSignal(flow.outcome, timeout=5000) as outcome:
        flow.editor.close()
    assert outcome.args == [Outcome.CANCELLED, ""]


def test_the_editor_saves_and_uploads_the_flat_image(make_flow, qtbot, tmp_path) -> None:
    flow = make_flow(AfterCapture.EDITOR)
    with qtbot.waitSignal(flow.editor_shown, timeout=5000) as shown:
        flow.start_capture(CaptureMode.ALL_SCREENS)
    editor = shown.args[0]
    editor.place(editor.tool.FILL, ((0, 0), (40, 30)))
    target = tmp_path / "shot.png"
    with qtbot.waitSignal(flow.outcome, timeout=5000) as outcome:
        flow.save(str(target), editor.document.export_png())
    assert outcome.args == [Outcome.SAVED, str(target)]
    saved = Image.open(io.BytesIO(target.read_bytes())).convert("RGB")
    assert saved.getpixel((20, 15)) == (0, 0, 0)
    assert saved.getpixel((60, 50)) == desktop_picture().getpixel((60, 50))

    with qtbot.waitSignal(flow.outcome, timeout=5000) as outcome:
        flow.save(str(tmp_path / "missing" / "shot.png"), b"png")
    assert outcome.args[0] == Outcome.FAILED

    with qtbot.waitSignal(flow.service.job_done, timeout=20_000) as done:
        editor.upload()
    assert flow.service.job(done.args[0]).name.startswith("screenshot-")


def test_the_grab_refused_is_reported(qapp, make_service, live_server, qtbot) -> None:
    capture = ScreenCapture(grab=QImage, settle_ms=0)  # a null image: nothing may be read
    flow = CaptureFlow(capture, make_service(live_server.url), qapp.clipboard(), AppConfig)
    with qtbot.waitSignal(flow.outcome, timeout=5000) as outcome:
        flow.start_capture(CaptureMode.SCREEN)
    assert outcome.args[0] == Outcome.FAILED
    assert not capture.busy
    delete_qobject(flow)


@pytest.mark.parametrize(
    ("args", "status"),
    [
        (["capture", "region"], EXIT_UNREACHABLE),  # no app running
        (["capture", "screen", "--delay", "-1"], EXIT_USAGE),
        (["capture", "window", "--delay", "601"], EXIT_USAGE),
    ],
)
def test_capture_command_exit_statuses_without_an_app(tmp_path, capsys, args, status) -> None:
    assert run([*args, "--data-dir", str(tmp_path)]) == status
    assert capsys.readouterr().err.startswith("picdrop capture: ")


@pytest.mark.parametrize("choice", list(AfterCapture))
def test_the_after_capture_choice_is_kept_in_settings(qapp, tmp_path, choice) -> None:
    from PySide6.QtCore import QSettings

    from desktop.settings import SettingsStore
    from desktop.ui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(AppConfig(after_capture=choice.value))
    assert dialog.after_capture.currentData() == choice.value
    store = SettingsStore(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    store.save(dialog.config())
    assert store.load().after_capture == choice.value
    delete_qobject(dialog)
