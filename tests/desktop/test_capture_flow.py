"""The capture flow offscreen, with the grab replaced (the seam a portal client uses): each capture
mode cuts the right pixels, the after-capture choice is followed, the editor's Save as and Copy
work; an uploaded image opened in the editor from its menu goes up again as a new upload; and
`picdrop capture`'s exit statuses without an app."""

from __future__ import annotations

import io
from urllib.parse import urlsplit

import pytest
import requests
from PIL import Image
from PySide6.QtCore import QPoint, QRect, QSettings, Qt
from PySide6.QtGui import QGuiApplication, QImage

from desktop.capture import CaptureMode, ScreenCapture
from desktop.capture_flow import CaptureFlow, Outcome
from desktop.commands import run
from desktop.commands.status import EXIT_UNREACHABLE, EXIT_USAGE
from desktop.core.config import AfterCapture, AppConfig
from desktop.core.intake import BytesSource
from desktop.core.jobs import JobState
from desktop.core.markup import Tool
from desktop.ui.editor import EDIT_LABEL, MarkupEditor
from desktop.ui.pil_qt import from_qimage, to_qimage
from tests.desktop.conftest import delete_qobject, noise_png

TIMEOUT = 20_000


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

    from desktop.settings import SettingsStore
    from desktop.ui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(AppConfig(after_capture=choice.value))
    assert dialog.after_capture.currentData() == choice.value
    store = SettingsStore(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    store.save(dialog.config())
    assert store.load().after_capture == choice.value
    delete_qobject(dialog)


# -- "Annotate / redact…" on an upload -----------------------------------------------------------
@pytest.fixture
def make_app(picdrop_app):
    """The real app wiring (window, server actions, capture flow) uploading to `server`."""
    return lambda server: picdrop_app(environ={"PICDROP_SERVER": server}, tray_available=True)


@pytest.fixture
def app(make_app, live_server):
    return make_app(live_server.url)


def pixels(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGB")


def upload_one(app, qtbot, data: bytes):
    with qtbot.waitSignal(app.uploads.batch_finished, timeout=TIMEOUT) as finished:
        app.window.enqueue([BytesSource(data, "secret.png", "image/png")])
    (job,) = app.uploads.queue.batch_jobs(finished.args[0])
    return job


def edit_action(menu_owner) -> object:
    (action,) = [a for a in menu_owner.more_button.menu().actions() if a.text() == EDIT_LABEL]
    return action


def open_in_editor(app, qtbot, key: str, where: str) -> MarkupEditor:
    """Choose "Annotate / redact…" in the queue row's menu or in History's."""
    if where == "queue":
        row = app.window.queue_view.row(key)
        assert row.more_button.isVisibleTo(row)
        action = edit_action(row)
    else:
        app.window.tabs.setCurrentIndex(1)
        view = app.window.history_view
        qtbot.waitUntil(lambda: key in view.item_keys(), timeout=TIMEOUT)
        view.select([key])
        assert view.more_button.isEnabled()
        action = edit_action(view)
    with qtbot.waitSignal(app.capture_flow.editor_shown, timeout=TIMEOUT) as shown:
        action.trigger()
    return shown.args[0]


def drag(editor: MarkupEditor, tool: Tool, start: QPoint, end: QPoint, qtbot) -> None:
    editor.set_tool(tool)
    with qtbot.waitSignal(editor.changed, timeout=5000):
        qtbot.mousePress(editor.canvas, Qt.MouseButton.LeftButton, pos=start)
        qtbot.mouseRelease(editor.canvas, Qt.MouseButton.LeftButton, pos=end)


@pytest.mark.parametrize("where", ["queue", "history"])
def test_the_menu_opens_the_editor_on_that_uploads_pixels(app, qtbot, where) -> None:
    original = noise_png(40, seed=1)
    job = upload_one(app, qtbot, original)
    upload_one(app, qtbot, noise_png(40, seed=2))  # another image listed: not this one
    editor = open_in_editor(app, qtbot, job.key, where)
    assert editor.isVisible() and app.capture_flow.editor is editor
    assert editor.document.render().tobytes() == pixels(original).tobytes()


def test_a_failed_uploads_image_opens_in_the_editor_too(
    make_app, live_server, fault_proxy, qtbot
) -> None:
    proxy = fault_proxy(live_server.url, missing=("/api/upload",))  # refused for good
    app = make_app(proxy.url)
    original = noise_png(30, seed=6)
    job = upload_one(app, qtbot, original)
    assert job.state is JobState.FAILED
    row = app.window.queue_view.row(job.key)
    assert not row.qr_action.isEnabled()  # no link to show
    editor = open_in_editor(app, qtbot, job.key, "queue")
    assert editor.document.render().tobytes() == pixels(original).tobytes()


def test_a_redaction_uploaded_from_the_editor_is_a_new_upload(app, qtbot, live_server) -> None:
    original = upload_one(app, qtbot, noise_png(60, seed=3))
    served_before = requests.get(original.result.url, timeout=5).content
    editor = open_in_editor(app, qtbot, original.key, "queue")
    assert editor.windowTitle().startswith("Annotate and redact")  # not a screenshot's editor
    drag(editor, Tool.FILL, QPoint(8, 6), QPoint(40, 30), qtbot)
    flat = editor.document.render()

    with qtbot.waitSignal(app.uploads.job_done, timeout=TIMEOUT) as done:
        editor.upload_button.click()
    edited = app.uploads.job(done.args[0])
    assert edited.key != original.key and edited.result.url != original.result.url
    assert edited.name.startswith("edited-") and edited.name.endswith(".png")
    qtbot.waitUntil(lambda: app.capture_flow.editor is None, timeout=5000)  # closed
    served = pixels(requests.get(edited.result.url, timeout=5).content)
    assert served.tobytes() == flat.tobytes()
    assert len(served.crop((8, 6, 40, 30)).getcolors()) == 1  # one flat colour
    assert (
        served.crop((0, 31, 60, 60)).tobytes()
        == pixels(served_before).crop((0, 31, 60, 60)).tobytes()
    )
    # The original upload is left as it was, on the server and in the list.
    assert requests.get(original.result.url, timeout=5).content == served_before
    assert app.uploads.job(original.key).result.url == original.result.url
    assert len(app.uploads.jobs()) == 2


def test_the_editors_copy_image_copies_the_flat_pixels(app, qtbot, qapp, catalog, live_server):
    original = upload_one(app, qtbot, noise_png(50, seed=4))
    editor = open_in_editor(app, qtbot, original.key, "queue")
    drag(editor, Tool.PIXELATE, QPoint(0, 0), QPoint(48, 48), qtbot)
    flat = editor.document.render()
    assert flat.tobytes() != pixels(app.uploads.image_bytes(original.key)).tobytes()
    qapp.clipboard().clear()
    with qtbot.waitSignal(app.capture_flow.outcome, timeout=5000) as outcome:
        editor.copy_button.click()
    assert outcome.args == [Outcome.COPIED, ""]
    assert from_qimage(qapp.clipboard().image()).tobytes() == flat.tobytes()
    assert [j.key for j in app.uploads.jobs()] == [original.key]  # nothing uploaded
    assert catalog.count(live_server.settings.data_dir) == 1


def test_cancelling_the_editor_uploads_nothing(app, qtbot, catalog, live_server) -> None:
    original = upload_one(app, qtbot, noise_png(30, seed=5))
    editor = open_in_editor(app, qtbot, original.key, "queue")
    drag(editor, Tool.FILL, QPoint(2, 2), QPoint(20, 20), qtbot)
    with qtbot.waitSignal(app.capture_flow.outcome, timeout=5000) as outcome:
        editor.close()  # Cancel and Esc close it
    assert outcome.args == [Outcome.CANCELLED, ""]
    qtbot.waitUntil(lambda: app.capture_flow.editor is None, timeout=5000)
    assert [j.key for j in app.uploads.jobs()] == [original.key]
    assert len(app.history.recent_done(10)) == 1
    assert catalog.count(live_server.settings.data_dir) == 1


def test_a_history_item_that_cannot_be_fetched_opens_no_editor(
    make_app, live_server, fault_proxy, qtbot, qapp
) -> None:
    """The failure is told; a later "Copy image" of the same item copies (it opens no editor)."""
    proxy = fault_proxy(live_server.url)
    app = make_app(proxy.url)
    job = upload_one(app, qtbot, noise_png(30, seed=7))
    proxy.missing = (urlsplit(job.result.url).path,)  # the image is gone from its server
    app.window.tabs.setCurrentIndex(1)
    view = app.window.history_view
    qtbot.waitUntil(lambda: view.item_keys() == [job.key], timeout=TIMEOUT)
    view.select([job.key])
    with qtbot.waitSignal(app.actions.fetch_failed, timeout=TIMEOUT):
        edit_action(view).trigger()
    assert app.window.toast.text().startswith("Could not fetch")
    assert app.capture_flow.editor is None

    proxy.missing = ()
    qapp.clipboard().clear()
    (copy_image,) = [a for a in view.more_button.menu().actions() if a.text() == "Copy image"]
    with qtbot.waitSignal(app.actions.image_fetched, timeout=TIMEOUT):
        copy_image.trigger()
    assert (
        from_qimage(qapp.clipboard().image()).tobytes() == pixels(noise_png(30, seed=7)).tobytes()
    )
    assert app.capture_flow.editor is None
