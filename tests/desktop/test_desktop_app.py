"""The app's wiring: embedded server in local mode, PICDROP_SERVER, settings, history actions,
and the screenshot script under a real X server."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import requests
from PIL import Image
from PySide6.QtCore import QTimer
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QMessageBox

from desktop.assets import asset_path
from desktop.core.config import AppConfig, effective_server
from desktop.core.history import HistoryUnavailable
from desktop.core.intake import file_sources
from desktop.core.jobs import Job, JobState
from desktop.core.links import LinkFormat
from desktop.settings import SettingsStore
from desktop.tools import screenshot
from desktop.ui import theme
from desktop.ui.queue import QueueView, UploadRow
from desktop.ui.startup_problems import KEEP_ASIDE, start_afresh, start_new_local_server
from tests.desktop.conftest import child_env

TIMEOUT = 20_000


@pytest.fixture
def make_app(picdrop_app):
    return lambda environ=None: picdrop_app(environ=environ or {})


def test_settings_round_trip_and_env_override(qsettings) -> None:
    store = SettingsStore(qsettings)
    config = AppConfig(
        server_url="https://img.example", link_format=LinkFormat.MARKDOWN, parallel_uploads=5,
        auto_copy=False, share_on_lan=True,
    )  # fmt: skip
    store.save(config)
    assert SettingsStore(qsettings).load() == config
    assert effective_server(config, {}) == "https://img.example"
    assert effective_server(config, {"PICDROP_SERVER": "http://other:8000/"}) == "http://other:8000"
    assert effective_server(AppConfig(), {}) == ""


def test_without_a_server_the_app_runs_the_embedded_one(make_app, images, qtbot, qapp) -> None:
    app = make_app()
    assert app.embedded is not None
    url = app.uploads.server_url
    assert url.startswith("http://127.0.0.1:")
    assert requests.get(url + "/healthz", timeout=5).json()["status"] == "ok"
    assert app.window.banner.isVisibleTo(app.window)
    assert "only on this computer" in app.window.banner_text.text()
    assert url in app.window.server_label.text()
    # The port is remembered so that links from this run still work after a restart.
    assert app.config.embedded_port == int(url.rsplit(":", 1)[1])
    # Its data lives under the app's data directory.
    assert (app.data_dir / "server").is_dir()

    with qtbot.waitSignal(app.uploads.job_done, timeout=TIMEOUT) as done:
        app.start(images(1))
    assert qapp.clipboard().text() == app.uploads.job(done.args[0]).result.url


def test_picdrop_server_env_wins_over_the_saved_setting(make_app, live_server, qsettings):
    SettingsStore(qsettings).save(AppConfig(server_url="http://127.0.0.1:9"))
    app = make_app({"PICDROP_SERVER": live_server.url})
    assert app.embedded is None
    assert app.uploads.server_url == live_server.url
    assert not app.window.banner.isVisibleTo(app.window)


def test_switching_servers_keeps_the_built_in_one_while_its_links_live(
    make_app, live_server, images, qtbot
) -> None:
    """Bug: choosing another server shut the built-in one down, and every earlier local link
    with it (History still said "done")."""
    app = make_app()
    with qtbot.waitSignal(app.uploads.job_done, timeout=TIMEOUT) as done:
        app.start(images(1))
    local = app.uploads.job(done.args[0]).result.url
    app.apply_config(replace(app.config, server_url=live_server.url))
    assert app.uploads.server_url == live_server.url
    assert requests.get(local, timeout=5).status_code == 200
    app.shutdown()  # and the next run, on the other server, serves them too
    again = make_app()
    assert again.uploads.server_url == live_server.url
    assert requests.get(local, timeout=5).status_code == 200
    # Once no upload lives there any more, switching lets it go.
    again.history.forget(done.args[0])
    again.apply_config(replace(again.config, server_url=live_server.url + "/"))
    assert again.embedded is None


def test_history_view_copy_delete_and_forget(
    live_server, make_service, make_window, images, qtbot, qapp, monkeypatch
) -> None:
    service = make_service(live_server.url)
    window = make_window(service)
    with qtbot.waitSignal(service.batch_finished, timeout=TIMEOUT):
        service.enqueue(file_sources(images(2)))
    first, second = service.jobs()
    window.tabs.setCurrentIndex(1)
    view = window.history_view
    assert view.item_keys() == [second.key, first.key]  # newest first

    view.search.setText(first.name)  # debounced: the list follows once typing settles
    qtbot.waitUntil(lambda: view.item_keys() == [first.key])
    view.search.clear()
    qtbot.waitUntil(lambda: view.item_keys() == [second.key, first.key])

    view.select([first.key])
    view.copy_as.emit([first.key], LinkFormat.MARKDOWN.value)
    assert qapp.clipboard().text() == f"![image]({first.result.url})"

    # Delete from server: confirm, DELETE with the stored token, the item says "deleted".
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    with qtbot.waitSignal(service.history_changed, timeout=TIMEOUT):
        view.delete_button.click()
    assert requests.get(first.result.url, timeout=5).status_code == 404
    assert service.history.get(first.key).state is JobState.DELETED
    qtbot.waitUntil(lambda: [i.state for i in view.selected()] == [JobState.DELETED])

    view.select([second.key])
    view.forget_button.click()
    assert view.item_keys() == [first.key]
    assert service.history.get(second.key) is None
    assert requests.get(second.result.url, timeout=5).status_code == 200  # forget is local


def test_history_items_copy_their_image_save_it_and_show_a_qr_code(
    live_server, make_service, make_window, images, qtbot, qapp, monkeypatch, tmp_path
) -> None:
    """History keeps no image bytes: "Copy image" and "Save as…" fetch them back from the
    server, off the GUI thread; "QR code" shows the link's code."""
    from desktop.ui import main_window

    service = make_service(live_server.url)
    window = make_window(service)
    with qtbot.waitSignal(service.batch_finished, timeout=TIMEOUT):
        service.enqueue(file_sources(images(1)))
    [job] = service.jobs()
    served = requests.get(job.result.url, timeout=5).content
    window.tabs.setCurrentIndex(1)
    view = window.history_view
    qtbot.waitUntil(lambda: view.item_keys() == [job.key])
    assert not view.more_button.isEnabled()  # nothing selected
    view.select([job.key])
    assert view.more_button.isEnabled()
    copy_image, save_as, _annotate, qr_code = view.more_button.menu().actions()

    qapp.clipboard().clear()
    copy_image.trigger()
    qtbot.waitUntil(lambda: not qapp.clipboard().image().isNull(), timeout=TIMEOUT)
    copied = qapp.clipboard().image().convertToFormat(QImage.Format.Format_RGB32)
    assert copied == QImage.fromData(served).convertToFormat(QImage.Format.Format_RGB32)

    target = tmp_path / "kept.png"
    monkeypatch.setattr(main_window, "choose_save_path", lambda *_args: target)
    save_as.trigger()
    qtbot.waitUntil(lambda: target.exists() and target.read_bytes() == served, timeout=TIMEOUT)

    shown: list[str] = []
    record = lambda dialog: shown.append(dialog.link.text())  # noqa: E731
    monkeypatch.setattr(main_window.QrDialog, "exec", record)
    qr_code.trigger()
    assert shown == [service.history.get(job.key).link_info().page_url]


def test_retry_after_cancel_uploads_once(
    live_server, make_service, fault_proxy, images, qtbot, catalog
) -> None:
    proxy = fault_proxy(live_server.url, rate=2_000_000)
    service = make_service(proxy.url)
    (path,) = images(1, side=1200)
    with qtbot.waitSignal(
        service.job_progress, timeout=TIMEOUT, check_params_cb=lambda k, s, t: s > 0
    ):
        service.enqueue(file_sources([path]))
    (job,) = service.jobs()
    service.cancel(job.key)
    proxy.rate = None
    with qtbot.waitSignal(service.job_done, timeout=TIMEOUT):
        service.retry(job.key)
    assert job.state is JobState.DONE
    qtbot.waitUntil(lambda: service.pool.activeThreadCount() == 0, timeout=TIMEOUT)
    assert catalog.count(live_server.settings.data_dir) == 1


def test_icons_render_sharp_at_hidpi(qapp) -> None:
    assert asset_path("icons/picdrop.svg").is_file()
    pixmap = theme.app_pixmap(32, ratio=2.0)
    assert (pixmap.width(), pixmap.height()) == (64, 64)
    assert not theme.app_icon().isNull()


def test_a_long_list_of_removed_metadata_wraps_inside_the_window(qtbot) -> None:
    removed = [
        "GPS location",
        "camera make and model",
        "camera serial number",
        "owner and author names",
        "EXIF data",
        "XMP data",
        "comments",
    ]
    view = QueueView()
    qtbot.addWidget(view)
    view.resize(600, 400)
    job = Job(
        key="k",
        name="camera.jpg",
        batch="b",
        size=10_500,
        state=JobState.DONE,
        ready=True,
        removed=removed,
    )
    view.add(UploadRow(job))
    view.show()
    row = view.rows()["k"]
    qtbot.waitUntil(lambda: row.isVisible())
    assert row.width() <= view.viewport().width()
    assert row.meta.height() > row.meta.fontMetrics().height()  # wrapped onto several lines


def require_xvfb() -> None:
    if shutil.which("Xvfb"):
        return
    if os.environ.get("PICDROP_REQUIRE_ALL") == "1":
        pytest.fail("Xvfb is required (PICDROP_REQUIRE_ALL=1) but missing", pytrace=False)
    pytest.skip("Xvfb is missing")


@pytest.mark.xvfb
@pytest.mark.parametrize(
    ("tool", "names"),
    [("screenshot", ("main-window.png", "main-window-dark.png")),
     ("history_screenshot", ("history.png", "history-grid-dark.png"))],
)  # fmt: skip
def test_screenshot_script_under_xvfb(tmp_path: Path, tool: str, names: tuple[str, ...]) -> None:
    require_xvfb()
    import backend

    repo = Path(backend.__file__).resolve().parent.parent
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "QT_QPA_PLATFORM")}
    result = subprocess.run(
        [sys.executable, "-m", f"desktop.tools.{tool}", "--out", str(tmp_path)],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    if tool == "screenshot":
        names = (*names, "main-window-hidpi.png")
        if screenshot.gtk3_theme_available():
            names = (*names, "main-window-gtk-dark.png")
    for name in names:
        with Image.open(tmp_path / name) as shot:
            assert shot.size[0] >= 700 and shot.size[1] >= 700
            # Not blank: a real window has many colours.
            assert len(shot.convert("RGB").getcolors(1_000_000)) > 200


def test_a_long_run_of_signals_does_not_abort_the_app(tmp_path) -> None:
    """PySide6 6.12.0 drops a reference to True on each emit (excluded in pyproject.toml): an app
    that emits as many signals as a long day of uploads must not abort when True runs out."""
    script = (
        "from PySide6.QtCore import QObject, Signal\n"
        "from desktop.app import create_qt_app\n"
        "app = create_qt_app(['picdrop'])\n"
        "class Source(QObject):\n"
        "    progress = Signal(str, int)\n"
        "source = Source()\n"
        "source.progress.connect(lambda key, sent: None)\n"
        "for sent in range(200_000):\n"
        "    source.progress.emit('key', sent)\n"
        "print('done')\n"
    )
    env = child_env(XDG_CONFIG_HOME=str(tmp_path))
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr.decode()[-2000:]
    assert run.stdout == b"done\n"


def answer_the_question(click: str) -> dict:
    """Click `click` in the message box about to open; what it showed is filled in."""
    shown: dict = {}

    def answer() -> None:  # runs in the box's own event loop
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(10, answer)
            return
        shown["buttons"] = sorted(b.text() for b in box.buttons())
        shown["text"] = box.text() + "\n" + box.informativeText()
        next(b for b in box.buttons() if b.text() == click).click()

    QTimer.singleShot(0, answer)
    return shown


@pytest.mark.parametrize(
    ("damaged", "click", "started"),
    [(True, KEEP_ASIDE, True), (True, "Quit", False), (False, "Quit", False)],
)
def test_the_question_about_a_history_that_cannot_be_opened(
    qtbot, tmp_path, damaged, click, started
) -> None:
    path = tmp_path / "history.sqlite3"
    problem = HistoryUnavailable(path, "file is not a database", damaged=damaged)
    shown = answer_the_question(click)
    assert start_afresh(problem) is started
    assert shown["buttons"] == ([KEEP_ASIDE, "Quit"] if damaged else ["Quit"])
    assert str(path) in shown["text"]
    assert ("damaged" in shown["text"]) is damaged


@pytest.mark.parametrize(("click", "started"), [(KEEP_ASIDE, True), ("Quit", False)])
def test_the_question_about_a_damaged_built_in_server(qtbot, tmp_path, click, started) -> None:
    shown = answer_the_question(click)
    assert start_new_local_server(tmp_path / "server") is started
    assert shown["buttons"] == [KEEP_ASIDE, "Quit"]
    assert str(tmp_path / "server") in shown["text"] and "damaged" in shown["text"]
