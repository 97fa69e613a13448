"""The tray icon's menu and state, offscreen, against a real backend on 127.0.0.1: its actions
upload what they say, recent uploads copy their links, the icon and tooltip follow progress,
one notification per batch (with counts), failures announced once, when final."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
import requests
from PIL import Image, ImageChops
from PySide6.QtCore import QMimeData, QPoint, QRect, Qt, QUrl
from PySide6.QtGui import QImage
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QFileDialog

from desktop.capture import ScreenCapture
from desktop.capture_flow import CaptureFlow
from desktop.clipboard import LinkCopier
from desktop.core.activity import Activity, Run, summarize
from desktop.core.config import AppConfig
from desktop.core.intake import file_sources
from desktop.core.jobs import Job, JobState
from desktop.core.retry import RetryPolicy
from desktop.core.selection import Rect
from desktop.tray_controller import TrayController
from desktop.ui.pil_qt import from_qimage
from desktop.ui.tray import TrayIcon
from desktop.ui.tray_icons import RING_STEPS, render, ring_step

TIMEOUT = 20_000
NO_MODIFIER = Qt.KeyboardModifier.NoModifier


@pytest.fixture
def make_tray(qapp, history):
    made = []

    def make(service, config: AppConfig | None = None):
        config = config or AppConfig()
        copier = LinkCopier(service, qapp.clipboard(), lambda: config, parent=service)
        tray = TrayIcon()
        capture = CaptureFlow(ScreenCapture(settle_ms=0), service, qapp.clipboard(), lambda: config)
        controller = TrayController(tray, service, history, copier, capture, qapp.clipboard())
        notes: list[tuple[str, str]] = []
        tray.notified.connect(lambda title, text: notes.append((title, text)))
        made.append((tray, controller, capture))
        return tray, controller, notes

    yield make
    from tests.desktop.conftest import delete_qobject

    for tray, controller, capture in made:
        tray.close()
        for obj in (controller, capture, tray):
            delete_qobject(obj)


def pixels(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGBA")


def same_pixels(a: Image.Image, b: Image.Image) -> bool:
    return a.size == b.size and ImageChops.difference(a, b).getbbox() is None


def test_upload_clipboard_image(live_server, make_service, make_tray, qtbot, qapp) -> None:
    service = make_service(live_server.url)
    tray, _controller, notes = make_tray(service)
    expected = Image.new("RGBA", (37, 23))
    expected.putdata([(x * 7, y * 11, 64, 255) for y in range(23) for x in range(37)])
    image = qimage(expected)
    qapp.clipboard().setImage(image)

    with qtbot.waitSignal(service.job_done, timeout=TIMEOUT) as done:
        tray.action("Upload clipboard").trigger()
    job = service.job(done.args[0])
    served = requests.get(job.result.url, timeout=5)
    assert served.status_code == 200
    assert same_pixels(pixels(served.content), expected)
    # The link is on the clipboard, and the tray said so, naming the file.
    assert qapp.clipboard().text() == job.result.url
    assert notes == [("Link copied", job.name)]


def test_upload_clipboard_files_and_nothing(
    live_server, make_service, make_tray, images, qtbot, qapp
) -> None:
    service = make_service(live_server.url)
    tray, _controller, notes = make_tray(service)
    paths = images(2)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    qapp.clipboard().setMimeData(mime)
    with qtbot.waitSignal(service.batch_finished, timeout=TIMEOUT):
        tray.action("Upload clipboard").trigger()
    assert sorted(j.name for j in service.jobs()) == sorted(p.name for p in paths)
    assert all(j.state is JobState.DONE for j in service.jobs())

    # An image link on the clipboard: downloaded, then uploaded.
    qapp.clipboard().setText(service.jobs()[0].result.url)
    with qtbot.waitSignal(service.job_done, timeout=TIMEOUT) as done:
        tray.action("Upload clipboard").trigger()
    assert service.job(done.args[0]).result.sha256 == service.jobs()[0].result.sha256

    qapp.clipboard().setText("just some words")
    tray.action("Upload clipboard").trigger()
    assert notes[-1][0] == "Nothing to upload"
    assert len(service.jobs()) == 3


def test_upload_files_action(
    live_server, make_service, make_tray, images, qtbot, monkeypatch
) -> None:
    service = make_service(live_server.url)
    tray, _controller, _notes = make_tray(service)
    paths = images(2)
    monkeypatch.setattr(
        QFileDialog, "getOpenFileNames", lambda *a, **k: ([str(p) for p in paths], "")
    )
    with qtbot.waitSignal(service.batch_finished, timeout=TIMEOUT):
        tray.action("Upload files…").trigger()
    assert [j.name for j in service.jobs()] == [p.name for p in paths]


def test_menu_is_rebuilt_on_open_and_recent_uploads_copy_links(
    live_server, make_service, make_tray, images, qtbot, qapp
) -> None:
    service = make_service(live_server.url, parallel=1)
    tray, _controller, notes = make_tray(service)
    assert [a.text() for a in tray.menu.actions() if a.text()] == [
        "Upload clipboard", "Upload files…", "Capture screen…", "No uploads yet", "Show window",
        "Pause uploads", "Settings…", "Quit picdrop",
    ]  # fmt: skip

    with qtbot.waitSignal(service.batch_finished, timeout=TIMEOUT):
        service.enqueue(file_sources(images(7)))
    jobs = service.jobs()
    # Thumbnails come after the links (a batch never waits for them).
    qtbot.waitUntil(lambda: all(i.thumbnail for i in service.history.recent_done(5)))
    tray.menu.aboutToShow.emit()  # what opening the menu does
    recent = tray.recent_actions()
    # The five newest, newest first, each with its thumbnail and its age (two "shot.png" differ).
    assert [a.text() for a in recent] == [f"{j.name}  ·  just now" for j in reversed(jobs)][:5]
    assert all(not a.icon().isNull() for a in recent)
    assert tray.action("Recent uploads").isEnabled() is False

    qapp.clipboard().clear()
    recent[2].trigger()
    assert qapp.clipboard().text() == jobs[4].result.url
    assert notes[-1] == ("Link copied", jobs[4].name)


def test_clicking_a_notification_opens_the_image_page(
    live_server, make_service, make_tray, images, qtbot, qapp, monkeypatch
) -> None:
    from PySide6.QtGui import QDesktopServices

    opened: list[str] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url.toString()))
    service = make_service(live_server.url)
    tray, _controller, _notes = make_tray(service)
    with qtbot.waitSignal(service.job_done, timeout=TIMEOUT) as done:
        service.enqueue(file_sources(images(1)))
    tray.message_clicked.emit()  # what clicking the "Link copied" bubble does
    assert opened == [service.job(done.args[0]).result.page_url]

    qapp.clipboard().setText("nothing to upload here")
    tray.action("Upload clipboard").trigger()  # "Nothing to upload": clicking it opens nothing
    tray.message_clicked.emit()
    assert len(opened) == 1


def test_tooltip_and_icon_follow_progress(
    live_server, make_service, make_tray, fault_proxy, images, qtbot
) -> None:
    proxy = fault_proxy(live_server.url, rate=1_500_000)
    service = make_service(proxy.url, parallel=1)
    tray, _controller, _notes = make_tray(service)
    idle_icon = tray.tray.icon().cacheKey()
    assert tray.tooltip() == "picdrop — Ready"

    seen: list[str] = []
    service.job_progress.connect(lambda *_: seen.append(tray.tooltip()))
    paths = images(2, side=500)  # ~750 KB each: about half a second per file
    service.enqueue(file_sources(paths))
    pattern = re.compile(r"picdrop — 1 of 2 uploading, (\d+)%")
    qtbot.waitUntil(
        lambda: any((m := pattern.fullmatch(t)) and 0 < int(m.group(1)) < 100 for t in seen),
        timeout=TIMEOUT,
    )
    # While busy, the icon is the progress ring, not the idle picture.
    assert tray.tray.icon().cacheKey() != idle_icon
    qtbot.waitUntil(lambda: all(j.state is JobState.DONE for j in service.jobs()), timeout=TIMEOUT)
    assert tray.tooltip() == "picdrop — 2 uploaded"
    assert tray.tray.icon().cacheKey() == idle_icon
    percents = [int(m.group(1)) for t in seen if (m := pattern.fullmatch(t))]
    assert percents == sorted(percents), "progress went backwards"


def test_a_batch_is_one_clipboard_write_and_one_notification(
    live_server, make_service, make_tray, images, qtbot, qapp
) -> None:
    service = make_service(live_server.url, parallel=2)
    _tray, _controller, notes = make_tray(service)
    writes: list[str] = []
    qapp.clipboard().dataChanged.connect(lambda: writes.append(qapp.clipboard().text()))
    with qtbot.waitSignal(service.batch_finished, timeout=TIMEOUT):
        service.enqueue(file_sources(images(5)))
    jobs = service.jobs()
    assert all(j.state is JobState.DONE for j in jobs)
    assert writes == ["\n".join(j.result.url for j in jobs)]  # once, every link, in order
    assert notes == [("5 links copied", "picture-1.png, picture-2.png and 3 more")]


def test_finished_uploads_notify_and_failures_notify_once(
    live_server, make_service, make_tray, fault_proxy, images, qtbot
) -> None:
    proxy = fault_proxy(live_server.url, fail_uploads=3)
    service = make_service(proxy.url, policy=RetryPolicy(max_attempts=3, base=0.01, cap=0.02))
    _tray, _controller, notes = make_tray(service)
    statuses: list[str] = []
    service.job_changed.connect(lambda key: statuses.append(service.job(key).status))
    (path,) = images(1)
    with qtbot.waitSignal(service.batch_finished, timeout=TIMEOUT):
        service.enqueue(file_sources([path]))
    (job,) = service.jobs()
    assert job.state is JobState.FAILED
    assert sum("retrying in" in s for s in statuses) == 2  # two automatic retries...
    assert notes == [(f"Upload failed: {path.name}", job.error)]  # ...one notification

    with qtbot.waitSignal(service.job_done, timeout=TIMEOUT):
        service.retry(job.key)  # the proxy lets the fourth try through
    assert notes[-1] == ("Link copied", path.name)
    assert len(notes) == 2


def test_pause_and_resume_from_the_menu(
    live_server, make_service, make_tray, images, qtbot
) -> None:
    service = make_service(live_server.url)
    tray, _controller, _notes = make_tray(service)
    tray.action("Pause uploads").trigger()
    assert service.paused
    tray.menu.aboutToShow.emit()
    with qtbot.waitSignal(service.job_changed, timeout=TIMEOUT):  # prepared, recorded
        service.enqueue(file_sources(images(1)))
    qtbot.waitUntil(lambda: service.jobs() and service.jobs()[0].ready, timeout=TIMEOUT)
    (job,) = service.jobs()
    assert job.state is JobState.QUEUED
    assert tray.tooltip() == "picdrop — Paused, 1 waiting"
    with qtbot.waitSignal(service.job_done, timeout=TIMEOUT):
        tray.action("Resume uploads").trigger()
    assert not service.paused


def test_window_intents_are_only_signals(make_service, make_tray, qtbot) -> None:
    tray, _controller, _notes = make_tray(make_service("http://127.0.0.1:9"))
    for text, signal in (
        ("Show window", tray.show_window),
        ("Settings…", tray.open_settings),
        ("Quit picdrop", tray.quit_requested),
    ):
        with qtbot.waitSignal(signal, timeout=1000):
            tray.action(text).trigger()


# -- pure parts -------------------------------------------------------------------------------
def test_activity_summary_text() -> None:
    def job(state: JobState, size: int = 100, sent: int = 0) -> Job:
        return Job(key=state + str(sent), name="x", batch="b", size=size, state=state, sent=sent)

    assert summarize([]).text == "Ready"
    run = [JobState.DONE, JobState.UPLOADING, JobState.UPLOADING, JobState.QUEUED]
    busy = summarize(
        [job(s, sent=sent) for s, sent in zip(run, (0, 50, 10, 0), strict=True)]
        + [job(JobState.QUEUED, sent=1)]
    )
    assert busy.text == "2 of 5 uploading, 32%"
    assert busy.busy and busy.percent == 32
    # A failure leaves the sum: the ring still reaches 100 %.
    assert summarize([job(JobState.FAILED), job(JobState.UPLOADING, sent=100)]).percent == 100
    assert summarize([job(JobState.DONE), job(JobState.FAILED)]).text == "1 uploaded, 1 failed"
    assert summarize([job(JobState.QUEUED)], paused=True).text == "Paused, 1 waiting"
    assert Activity().percent is None


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        # The sending job's size grows by the upload body's envelope: 50 of 100 becomes 50 of 110.
        (lambda jobs, run: setattr(jobs[0], "size", 110), 50),
        # The job being prepared turns out bigger than the average it was counted as.
        (lambda jobs, run: setattr(jobs[1], "size", 300), 50),
        # New work joins the run: the percentage rightly drops.
        (
            lambda jobs, run: (
                jobs.append(Job(key="c", name="c", batch="b", size=200)),
                run.add("c", previous_over=False),
            ),
            22,
        ),
    ],
)
def test_run_percentage_moves_back_only_when_work_joins(change, expected) -> None:
    jobs = [
        Job(key="a", name="a", batch="b", size=100, state=JobState.UPLOADING, sent=100),
        Job(key="b", name="b", batch="b", size=0),
    ]
    run = Run()
    for job in jobs:
        run.add(job.key, previous_over=False)
    assert run.activity(jobs).percent == 50
    change(jobs, run)
    assert run.activity(jobs).percent == expected
    run.remove("a")  # less work, counted afresh
    assert run.activity(jobs[1:]).percent == 0


def test_tray_icon_renders_sharp_ring_at_every_size(qapp) -> None:
    for variant in ("light", "dark"):
        for size in (16, 22, 32, 64):
            idle = render(size, variant).toImage()
            ring = render(size, variant, progress=0.5).toImage()
            assert (idle.width(), idle.height()) == (size, size)
            assert idle != ring
    assert ring_step(None) is None
    assert ring_step(0) == 0 and ring_step(100) == RING_STEPS and ring_step(48) == 19


def qimage(image: Image.Image) -> QImage:
    """PIL to QImage through PNG bytes. (Not QImage.setPixel: in PySide 6.12 it drops a
    reference to None per call, and enough calls crash the interpreter at exit.)"""
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return QImage.fromData(buffer.getvalue()).convertToFormat(QImage.Format.Format_RGB32)


@pytest.fixture
def shot() -> QImage:
    image = Image.new("RGB", (200, 120))
    image.putdata([(x, y, (x * y) & 0xFF) for y in range(120) for x in range(200)])
    return qimage(image)


@pytest.fixture
def make_overlay():
    """Overlays delete themselves when closed; one a test leaves open is deleted here, on the
    GUI thread (a widget left to interpreter shutdown can crash it)."""
    from desktop.ui.capture import CaptureOverlay
    from tests.desktop.conftest import delete_qobject

    made = []

    def make(shot: QImage, rect: QRect) -> CaptureOverlay:
        made.append(CaptureOverlay(shot, rect))
        return made[-1]

    yield make
    for overlay in made:
        delete_qobject(overlay)


def test_capture_overlay_drag_selects_exact_pixels(qtbot, shot, make_overlay) -> None:
    overlay = make_overlay(shot, QRect(0, 0, 200, 120))
    overlay.show()
    qtbot.waitExposed(overlay)
    QTest.mousePress(overlay, Qt.MouseButton.LeftButton, NO_MODIFIER, QPoint(130, 90))
    QTest.mouseMove(overlay, QPoint(60, 50))
    QTest.mouseMove(overlay, QPoint(30, 20))
    QTest.mouseRelease(overlay, Qt.MouseButton.LeftButton, NO_MODIFIER, QPoint(30, 20))
    assert overlay.isVisible()  # releasing leaves the selection to adjust; Enter takes it
    with qtbot.waitSignal(overlay.captured, timeout=2000) as captured:
        QTest.keyClick(overlay, Qt.Key.Key_Return, NO_MODIFIER)
    image = captured.args[0]
    assert (image.width(), image.height()) == (100, 70)
    assert image == shot.copy(30, 20, 100, 70)


def test_capture_overlay_hidpi_enter_and_escape(qtbot, shot, make_overlay) -> None:
    # A 200x120 device-pixel shot of a 100x60 screen.
    overlay = make_overlay(shot, QRect(0, 0, 100, 60))
    assert overlay.region_pixels(Rect(10, 5, 20, 10)) == shot.copy(20, 10, 40, 20)

    overlay.show()
    qtbot.waitExposed(overlay)
    with qtbot.waitSignal(overlay.captured, timeout=2000) as captured:
        QTest.keyClick(overlay, Qt.Key.Key_Return, NO_MODIFIER)
    assert captured.args[0].size() == shot.size()  # nothing selected: the whole screen

    other = make_overlay(shot, QRect(0, 0, 100, 60))
    other.show()
    qtbot.waitExposed(other)
    with qtbot.waitSignal(other.cancelled, timeout=2000):
        QTest.keyClick(other, Qt.Key.Key_Escape, NO_MODIFIER)


def test_screen_capture_uploads_what_the_overlay_returns(
    live_server, make_service, make_tray, qtbot, shot
) -> None:
    service = make_service(live_server.url)
    tray, controller, _notes = make_tray(service, AppConfig(after_capture="upload"))
    with qtbot.waitSignal(controller.capture.capture.overlay_shown, timeout=5000) as shown:
        tray.action("Capture screen…").trigger()
    overlay = shown.args[0]
    with qtbot.waitSignal(service.job_done, timeout=TIMEOUT) as done:
        overlay.finish()
    job = service.job(done.args[0])
    assert re.fullmatch(r"screenshot-\d{4}-\d\d-\d\d-\d{6}\.png", job.name)
    served = requests.get(job.result.url, timeout=5).content
    assert Path(job.result.url).suffix == ".png"
    assert pixels(served).size == (overlay.shot.width(), overlay.shot.height())


def test_capture_overlay_handles_and_arrows_adjust_the_selection(qtbot, shot, make_overlay) -> None:
    overlay = make_overlay(shot, QRect(0, 0, 200, 120))
    overlay.show()
    qtbot.waitExposed(overlay)

    def drag(start: QPoint, end: QPoint) -> None:
        QTest.mousePress(overlay, Qt.MouseButton.LeftButton, NO_MODIFIER, start)
        QTest.mouseMove(overlay, (start + end) / 2)
        QTest.mouseMove(overlay, end)
        QTest.mouseRelease(overlay, Qt.MouseButton.LeftButton, NO_MODIFIER, end)

    drag(QPoint(20, 20), QPoint(100, 80))
    assert overlay.selection() == QRect(20, 20, 80, 60)
    drag(QPoint(100, 80), QPoint(110, 90))  # the bottom-right handle
    assert overlay.selection() == QRect(20, 20, 90, 70)
    drag(QPoint(60, 50), QPoint(70, 45))  # inside: moves it
    assert overlay.selection() == QRect(30, 15, 90, 70)
    QTest.keyClick(overlay, Qt.Key.Key_Right, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClick(overlay, Qt.Key.Key_Down, Qt.KeyboardModifier.ShiftModifier)
    assert overlay.selection() == QRect(40, 15, 90, 71)
    with qtbot.waitSignal(overlay.captured, timeout=2000) as captured:
        QTest.keyClick(overlay, Qt.Key.Key_Enter, NO_MODIFIER)
    assert captured.args[0] == shot.copy(40, 15, 90, 71)


def test_capture_overlay_shows_the_selection_size_and_a_magnifier(
    qtbot, make_overlay, monkeypatch
) -> None:
    """The size of the selection and the pointer's position are drawn as text; the magnifier
    shows the frozen shot's pixels around the pointer, each ZOOM times larger, beside it."""
    from desktop.ui.capture import MAGNIFIED, ZOOM, CaptureOverlay

    picture = Image.new("RGB", (400, 300))
    picture.putdata([(x & 0xFF, y, 40 + (x >> 8) * 100) for y in range(300) for x in range(400)])
    overlay = make_overlay(qimage(picture), QRect(0, 0, 400, 300))
    drawn: list[str] = []
    label = CaptureOverlay._label
    monkeypatch.setattr(
        CaptureOverlay,
        "_label",
        lambda self, p, text, near: drawn.append(text) or label(self, p, text, near),
    )
    overlay.show()
    qtbot.waitExposed(overlay)
    QTest.mousePress(overlay, Qt.MouseButton.LeftButton, NO_MODIFIER, QPoint(50, 40))
    QTest.mouseMove(overlay, QPoint(170, 120))
    QTest.mouseRelease(overlay, Qt.MouseButton.LeftButton, NO_MODIFIER, QPoint(170, 120))
    pointer = QPoint(100, 80)
    QTest.mouseMove(overlay, pointer)

    drawn.clear()
    shown = from_qimage(overlay.grab().toImage())
    assert "120 × 80" in drawn
    assert f"{pointer.x()}, {pointer.y()}" in drawn
    # The magnifier's box starts 20 pixels right of and below the pointer; each of its cells
    # is one pixel of the shot (undimmed), the pointer's in the middle.
    box = pointer + QPoint(20, 20)
    half = MAGNIFIED // 2
    for dx, dy in [(0, 0), (-half, -half), (half, half), (-3, 5), (6, -2)]:
        cell = box + QPoint((half + dx) * ZOOM + ZOOM // 2, (half + dy) * ZOOM + ZOOM // 2)
        expected = picture.getpixel((pointer.x() + dx, pointer.y() + dy))
        assert shown.getpixel((cell.x(), cell.y())) == expected, (dx, dy)
