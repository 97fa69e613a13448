"""The main window as a daily user meets it, offscreen: drops anywhere and only as a copy, new
uploads in view and on top, the drop zone and banner out of the way, the paused state."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from desktop.core.intake import BytesSource
from desktop.core.jobs import JobState
from tests.desktop.conftest import png_bytes

UNREACHABLE = "http://127.0.0.1:9"
TIMEOUT = 20_000
Action = Qt.DropAction


def image_mime(tmp_path) -> QMimeData:
    path = tmp_path / "original.png"
    path.write_bytes(png_bytes())
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    return mime


def drag_over(widget, mime: QMimeData, offered, proposed) -> QDragEnterEvent:
    enter = QDragEnterEvent(
        widget.rect().center(), offered, mime, Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )  # fmt: skip
    enter.setDropAction(proposed)
    QApplication.sendEvent(widget, enter)
    return enter


@pytest.mark.parametrize(
    ("offered", "proposed", "taken"),
    [
        (Action.CopyAction | Action.MoveAction, Action.MoveAction, Action.CopyAction),
        (Action.MoveAction | Action.LinkAction, Action.MoveAction, Action.LinkAction),
        (Action.MoveAction, Action.MoveAction, None),  # only Move offered: refused
    ],
)
@pytest.mark.parametrize("target", ["drop_zone", "queue_view", "history_view"])
def test_drops_anywhere_are_taken_as_a_copy_never_a_move(
    make_service, make_window, qtbot, tmp_path, offered, proposed, taken, target
) -> None:
    service = make_service(UNREACHABLE)
    service.set_paused(True)
    window = make_window(service)
    if target == "history_view":
        window.tabs.setCurrentIndex(1)
    widget = getattr(window, target)
    mime = image_mime(tmp_path)
    enter = drag_over(widget, mime, offered, proposed)
    if taken is None:
        assert not enter.isAccepted()
        assert not window.drops.hovering
        return
    assert enter.isAccepted() and enter.dropAction() == taken
    assert window.drops.hovering
    drop = QDropEvent(
        widget.rect().center(), offered, mime, Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )  # fmt: skip
    drop.setDropAction(proposed)
    QApplication.sendEvent(widget, drop)
    assert drop.isAccepted() and drop.dropAction() == taken
    assert not window.drops.hovering
    assert [j.name for j in service.jobs()] == ["original.png"]
    assert window.tabs.currentIndex() == 0


def in_view(queue_view, row) -> bool:
    top = row.mapTo(queue_view.viewport(), QPoint(0, 0)).y()
    return row.isVisible() and top >= 0 and top + row.height() <= queue_view.viewport().height()


def test_a_new_upload_is_on_top_and_in_view_of_a_scrolled_list(
    make_service, make_window, qtbot
) -> None:
    service = make_service(UNREACHABLE)
    service.set_paused(True)
    window = make_window(service)
    window.resize(700, 520)
    service.enqueue([BytesSource(png_bytes(), f"old-{i}.png") for i in range(12)])
    qtbot.waitUntil(lambda: len(window.queue_view.rows()) == 12, timeout=TIMEOUT)
    bar = window.queue_view.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0, timeout=TIMEOUT)
    bar.setValue(bar.maximum())  # the user scrolled down to the oldest
    service.enqueue([BytesSource(png_bytes(), "newest.png")])
    key = next(j.key for j in service.jobs() if j.name == "newest.png")
    qtbot.waitUntil(lambda: window.queue_view.has_row(key), timeout=TIMEOUT)
    row = window.queue_view.row(key)
    qtbot.waitUntil(lambda: in_view(window.queue_view, row), timeout=TIMEOUT)
    others = [r for k, r in window.queue_view.rows().items() if k != key]
    assert all(row.y() < other.y() for other in others)


def test_with_uploads_the_drop_zone_is_a_slim_bar_and_the_banner_can_be_dismissed(
    make_service, make_window, qtbot
) -> None:
    service = make_service(UNREACHABLE)
    service.set_paused(True)
    window = make_window(service)
    window.resize(780, 640)
    window.set_server_info(UNREACHABLE, "local")
    assert window.banner.isVisible()
    full = window.drop_zone.height()
    service.enqueue([BytesSource(png_bytes(), "one.png")])
    qtbot.waitUntil(lambda: window.drop_zone.height() < full / 2, timeout=TIMEOUT)
    assert window.drop_zone.browse_button.isVisible()
    window.banner_close.click()
    assert not window.banner.isVisible()
    window.set_server_info(UNREACHABLE, "local")  # the same notice stays dismissed
    assert not window.banner.isVisible()
    window.set_server_info(UNREACHABLE, "lan")  # a new one is shown
    assert window.banner.isVisible()


def test_paused_is_shown_in_the_window_with_a_resume_button(
    make_service, make_window, qtbot
) -> None:
    service = make_service(UNREACHABLE)
    window = make_window(service)
    assert not window.paused_bar.isVisible()
    service.set_paused(True)  # as the tray's "Pause" does
    assert window.paused_bar.isVisible()
    window.resume_button.click()
    assert not service.paused and not window.paused_bar.isVisible()


@pytest.mark.parametrize(
    ("status", "speed", "meta"),
    [
        ("", 1000.0, "1.0 KB of 3.0 KB  ·  1.0 KB/s  ·  2 s left"),
        ("Cannot reach the server — retrying in 4 s", 898.0, "1.0 KB of 3.0 KB"),
        ("", 0.0, "1.0 KB of 3.0 KB"),
    ],
)
def test_speed_and_time_left_only_from_bytes_moving(qtbot, status, speed, meta) -> None:
    from desktop.core.jobs import Job, JobState
    from desktop.ui.queue import UploadRow

    job = Job(key="k", name="a.png", batch="b", size=3000, state=JobState.UPLOADING, ready=True)
    job.sent, job.speed, job.status = 1000, speed, status
    row = UploadRow(job)
    qtbot.addWidget(row)
    assert row.meta.text().startswith(meta)
    assert row.meta.text().count("/s") == (1 if meta.endswith("left") else 0)


def test_text_cut_short_ends_in_an_ellipsis_and_keeps_the_whole_in_its_tooltip(qtbot) -> None:
    """An upload row's name (History's text is painted by its delegate: test_history_view.py,
    test_long_error_text_is_cut_with_an_ellipsis)."""
    from desktop.core.jobs import Job
    from desktop.ui.queue import UploadRow

    name = "a-very-long-file-name-" * 6 + ".png"
    row = UploadRow(Job(key="k", name=name, batch="b", size=10, ready=True))
    qtbot.addWidget(row)
    row.resize(360, 80)
    row.show()
    qtbot.waitExposed(row)
    assert row.name.text().endswith("…") and row.name.text() != name
    assert name in row.name.toolTip()


def test_cancel_all_and_retry_all_failed(make_service, make_window, qtbot) -> None:
    service = make_service(UNREACHABLE)
    service.set_paused(True)
    window = make_window(service)
    service.enqueue([BytesSource(png_bytes(), f"{i}.png") for i in range(3)])
    qtbot.waitUntil(lambda: all(j.ready for j in service.jobs()), timeout=TIMEOUT)
    assert window.cancel_all_button.isVisible() and not window.retry_all_button.isVisible()
    window.cancel_all_button.click()
    assert {j.state for j in service.jobs()} == {JobState.CANCELLED}
    assert window.retry_all_button.isVisible() and not window.cancel_all_button.isVisible()
    window.retry_all_button.click()
    assert {j.state for j in service.jobs()} == {JobState.QUEUED}


def test_every_row_copies_its_image_saves_it_and_shows_a_qr_code(
    live_server, make_service, make_window, qtbot, qapp, tmp_path, monkeypatch
) -> None:
    from PIL import Image

    from desktop.ui import main_window
    from desktop.ui.qr_dialog import QrDialog

    service = make_service(live_server.url)
    window = make_window(service)
    window.expiry.setCurrentIndex(window.expiry.findData("1d"))
    paths = []
    for i, color in enumerate(("tomato", "gold")):
        path = tmp_path / f"shot-{i}.png"
        path.write_bytes(png_bytes(30 + i, 20, color))
        paths.append(path)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    with qtbot.waitSignal(service.batch_finished, timeout=TIMEOUT):
        drag_over(window.drop_zone, mime, Action.CopyAction, Action.CopyAction)
        QApplication.sendEvent(
            window.drop_zone,
            QDropEvent(window.drop_zone.rect().center(), Action.CopyAction, mime,
                       Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier),
        )  # fmt: skip
    first, second = service.jobs()
    assert {first.expires, second.expires} == {"1d"}  # the window's choice for these uploads

    qapp.clipboard().clear()
    window.copy_all_button.click()
    assert qapp.clipboard().text() == f"{first.result.url}\n{second.result.url}"

    row = window.queue_view.row(first.key)
    assert row.more_button.isVisibleTo(row)
    row.copy_image_clicked.emit(first.key)
    copied = qapp.clipboard().image()
    assert (copied.width(), copied.height()) == (30, 20)
    assert copied.pixelColor(5, 5).name() == "#ff6347"  # tomato

    saved = tmp_path / "saved" / "copy.png"
    saved.parent.mkdir()
    monkeypatch.setattr(main_window, "choose_save_path", lambda *_a: saved)
    row.save_as_clicked.emit(first.key)
    assert saved.read_bytes() == service.image_bytes(first.key)
    with Image.open(saved) as image:
        assert image.size == (30, 20)

    shown: list[QrDialog] = []
    monkeypatch.setattr(QrDialog, "exec", lambda dialog: shown.append(dialog) or 0)
    row.qr_clicked.emit(first.key)
    (dialog,) = shown
    assert dialog.link.text() == first.result.page_url
    assert not dialog.code.pixmap().isNull() and dialog.code.pixmap().width() >= 150


def test_only_the_latest_uploads_bytes_are_kept_for_copy_image_and_save_as(
    live_server, make_service, make_window, images, qtbot, monkeypatch, tmp_path
) -> None:
    """A dropped folder of photos is gigabytes: the rows keep the most recent bytes only, and
    an older row's "Copy image" and "Save as…" say where the image still is."""
    from desktop import service as service_module
    from desktop.core.intake import file_sources
    from desktop.ui import main_window

    paths = images(3, side=300)  # ~270 KB of noise each
    monkeypatch.setattr(service_module, "SENT_BYTES_KEPT", 5 * paths[0].stat().st_size // 2)
    service = make_service(live_server.url)
    window = make_window(service)
    with qtbot.waitSignal(service.batch_finished, timeout=TIMEOUT):
        service.enqueue(file_sources(paths))
    # Kept in the order they were staged, which the parallel workers choose.
    (forgotten,) = [j.key for j in service.jobs() if service.image_bytes(j.key) is None]

    window.queue_view.row(forgotten).copy_image_clicked.emit(forgotten)
    assert window.toast.text() == "This image is no longer here: open its link to get it"
    saved = tmp_path / "old.png"
    monkeypatch.setattr(main_window, "choose_save_path", lambda *_a: saved)
    window.queue_view.row(forgotten).save_as_clicked.emit(forgotten)
    assert window.toast.text().startswith("This image is no longer kept here: open its link")
    assert not saved.exists()


def test_the_link_copied_notice_covers_no_row(make_service, make_window, qtbot) -> None:
    from PySide6.QtCore import QRect

    service = make_service(UNREACHABLE)
    service.set_paused(True)
    window = make_window(service)
    window.resize(700, 520)
    service.enqueue([BytesSource(png_bytes(), f"{i}.png") for i in range(8)])
    qtbot.waitUntil(lambda: len(window.queue_view.rows()) == 8, timeout=TIMEOUT)
    window.show_notice("Link copied")
    toast = window.toast.geometry()
    viewport = window.queue_view.viewport()
    shown = QRect(viewport.mapTo(window, viewport.rect().topLeft()), viewport.size())
    assert not toast.intersects(shown)


def test_a_failed_download_says_what_happened_in_words() -> None:
    from desktop.core.intake import IntakeError, download_image

    with pytest.raises(IntakeError) as failed:
        download_image(f"{UNREACHABLE}/cat.png", timeout=(5, 5))
    said = str(failed.value)
    assert "could not be reached" in said and "Check the link" in said
    assert "Error" not in said  # no exception class names


def test_the_tray_chooses_the_expiry_of_the_next_uploads(picdrop_app) -> None:
    app = picdrop_app(environ={"PICDROP_SERVER": UNREACHABLE}, tray_available=True)
    app.uploads.set_paused(True)
    app.tray.menu.aboutToShow.emit()  # what opening the menu does
    (expiry,) = [
        a.menu() for a in app.tray.menu.actions()
        if a.menu() and a.menu().objectName() == "expiry"
    ]  # fmt: skip
    assert expiry.title() == "New uploads: Expiry: server default"
    (week,) = [a for a in expiry.actions() if a.text() == "Expires in 7 days"]
    week.trigger()
    assert app.window.expires() == "7d"
    app.capture_flow.upload(png_bytes())  # a screen capture, uploaded
    (job,) = app.uploads.jobs()
    assert job.expires == "7d"
    app.tray.menu.aboutToShow.emit()
    (expiry,) = [
        a.menu() for a in app.tray.menu.actions()
        if a.menu() and a.menu().objectName() == "expiry"
    ]  # fmt: skip
    assert expiry.title() == "New uploads: Expires in 7 days"


def test_in_a_wide_window_a_rows_buttons_stay_near_its_text(
    make_service, make_window, qtbot
) -> None:
    from desktop.ui.main_window import CONTENT_MAX_WIDTH

    service = make_service(UNREACHABLE)
    service.set_paused(True)
    window = make_window(service)
    window.resize(1900, 700)
    service.enqueue([BytesSource(png_bytes(), "wide.png")])
    qtbot.waitUntil(lambda: len(window.queue_view.rows()) == 1, timeout=TIMEOUT)
    (row,) = window.queue_view.rows().values()
    qtbot.waitUntil(lambda: window.width() >= 1800 and row.isVisible(), timeout=TIMEOUT)
    button = row.cancel_button.mapTo(window, row.cancel_button.rect().topLeft())
    text = row.name.mapTo(window, row.name.rect().topLeft())
    assert button.x() - text.x() < CONTENT_MAX_WIDTH
    assert row.width() < CONTENT_MAX_WIDTH < window.width() - 800


def test_browse_opens_in_pictures_then_where_the_user_last_chose(
    make_service, make_window, qtbot, tmp_path, monkeypatch
) -> None:
    from PySide6.QtCore import QStandardPaths
    from PySide6.QtWidgets import QFileDialog

    pictures = tmp_path / "Pictures"
    pictures.mkdir()
    monkeypatch.setattr(
        QStandardPaths, "writableLocation", lambda _where: str(pictures)
    )  # the user's Pictures folder
    chosen = tmp_path / "holiday" / "beach.png"
    chosen.parent.mkdir()
    chosen.write_bytes(png_bytes())
    opened_in: list[str] = []

    def dialog(_parent, _title, folder, _filters):
        opened_in.append(folder)
        return [str(chosen)], ""

    monkeypatch.setattr(QFileDialog, "getOpenFileNames", dialog)
    service = make_service(UNREACHABLE)
    service.set_paused(True)
    window = make_window(service)
    saved = []
    window.config_changed.connect(saved.append)
    window.browse()
    window.browse()
    assert opened_in == [str(pictures), str(chosen.parent)]
    assert saved[-1].last_folder == str(chosen.parent)  # kept in the settings for next time


def test_every_bulk_button_shows_its_whole_label_in_the_narrowest_window(
    make_service, make_window, qtbot
) -> None:
    service = make_service(UNREACHABLE)
    service.set_paused(True)
    window = make_window(service)
    buttons = window.bulk_buttons()
    assert "Copy album link" in [b.text() for b in buttons]
    for button in buttons:  # a batch can show all of them at once
        button.setVisible(True)
    window.resize(window.minimumSize())

    def unsqueezed() -> None:
        assert window.width() == window.minimumWidth()
        assert [b.width() for b in buttons] == [b.sizeHint().width() for b in buttons]

    qtbot.waitUntil(unsqueezed, timeout=5_000)
