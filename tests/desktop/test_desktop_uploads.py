"""End to end in one process: synthesized drops on the real window, uploads to a real backend on
127.0.0.1 (sometimes behind a fault-injecting proxy), links on the real clipboard."""

from __future__ import annotations

import base64
import io
import random

import pytest
import requests
from PIL import Image, ImageChops
from PySide6.QtCore import QMimeData, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QImage
from PySide6.QtWidgets import QApplication

from desktop.core.api import ApiError, PicdropClient
from desktop.core.intake import file_sources
from desktop.core.jobs import JobState
from desktop.core.retry import RetryPolicy

TIMEOUT = 20_000


def drop(widget, mime: QMimeData) -> None:
    """What Qt delivers for a real drag: enter (which must be accepted), then the drop."""
    pos = widget.rect().center()  # QDragEnterEvent takes a QPoint (QPointF only from 6.12)
    enter = QDragEnterEvent(
        pos,
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(widget, enter)
    assert enter.isAccepted(), "the window refused the drag"
    assert enter.dropAction() == Qt.DropAction.CopyAction
    assert widget.window().drops.hovering
    event = QDropEvent(
        pos,
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(widget, event)
    assert not widget.window().drops.hovering


def same_pixels(a: bytes, b: bytes) -> bool:
    with Image.open(io.BytesIO(a)) as x, Image.open(io.BytesIO(b)) as y:
        x, y = x.convert("RGBA"), y.convert("RGBA")
        return x.size == y.size and ImageChops.difference(x, y).getbbox() is None


def finished_jobs(service, qtbot, count: int):
    qtbot.waitUntil(
        lambda: len(service.jobs()) == count and all(j.state.finished for j in service.jobs()),
        timeout=TIMEOUT,
    )
    return service.jobs()


# -- drops ---------------------------------------------------------------------------------------
def test_dropped_files_are_uploaded_and_links_copied(
    live_server, make_service, make_window, images, qtbot, qapp, catalog
) -> None:
    service = make_service(live_server.url)
    window = make_window(service)
    paths = images(3)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])

    with qtbot.waitSignal(service.batch_finished, timeout=TIMEOUT):
        drop(window.drop_zone, mime)

    jobs = service.jobs()
    assert [j.name for j in jobs] == [p.name for p in paths]
    assert all(j.state is JobState.DONE for j in jobs)
    # One link per line, in the order of the files, once the batch finished.
    assert qapp.clipboard().text() == "\n".join(j.result.url for j in jobs)
    assert window.toast.isVisible() and window.toast.text() == "3 links copied"
    for path, job in zip(paths, jobs, strict=True):
        served = requests.get(job.result.url, timeout=10)
        assert served.status_code == 200
        assert same_pixels(served.content, path.read_bytes())
        row = window.queue_view.row(job.key)
        assert row.badge.text() == "Done" and row.copy_button.isVisibleTo(row)
    assert catalog.count(live_server.settings.data_dir) == 3


def test_dropped_image_bytes_are_uploaded(live_server, make_service, make_window, qtbot, qapp):
    service = make_service(live_server.url)
    window = make_window(service)
    image = QImage(120, 80, QImage.Format.Format_RGB32)
    image.fill(Qt.GlobalColor.darkCyan)
    mime = QMimeData()
    mime.setImageData(image)  # only image bytes: no URL, no HTML, no text

    with qtbot.waitSignal(service.job_done, timeout=TIMEOUT) as done:
        drop(window.drop_zone, mime)

    job = service.job(done.args[0])
    assert qapp.clipboard().text() == job.result.url
    assert window.toast.text() == "Link copied"
    served = requests.get(job.result.url, timeout=10)
    with Image.open(io.BytesIO(served.content)) as got:
        assert got.size == (120, 80)
        assert got.convert("RGB").getpixel((5, 5)) == (0, 128, 128)


def test_dropped_html_with_data_uri_is_uploaded(
    live_server, make_service, make_window, samples, qtbot, qapp
):
    service = make_service(live_server.url)
    window = make_window(service)
    data = samples.png(33, 22, "gold")
    mime = QMimeData()
    mime.setHtml(f'<img alt="gold" src="data:image/png;base64,{base64.b64encode(data).decode()}">')

    with qtbot.waitSignal(service.job_done, timeout=TIMEOUT) as done:
        drop(window.drop_zone, mime)

    job = service.job(done.args[0])
    assert qapp.clipboard().text() == job.result.url
    assert same_pixels(requests.get(job.result.url, timeout=10).content, data)


def test_dropped_image_link_is_downloaded_and_uploaded(
    live_server, hosted, make_service, make_window, samples, qtbot, qapp
):
    """A link dragged from a browser: the app fetches the image (type and size checked) and
    uploads it. The image is hosted by the same test server, reached over real HTTP."""
    data = samples.png(40, 30, "orchid")
    original = hosted(data)
    service = make_service(live_server.url)
    window = make_window(service)
    mime = QMimeData()
    mime.setUrls([QUrl(original["url"])])

    with qtbot.waitSignal(service.job_done, timeout=TIMEOUT) as done:
        drop(window.drop_zone, mime)

    job = service.job(done.args[0])
    assert job.result.id != original["id"]
    assert qapp.clipboard().text() == job.result.url
    assert same_pixels(requests.get(job.result.url, timeout=10).content, data)


def test_dropped_link_to_a_page_is_refused_on_its_row(
    live_server, hosted, make_service, make_window, samples, qtbot
):
    original = hosted(samples.png())
    service = make_service(live_server.url)
    window = make_window(service)
    mime = QMimeData()
    mime.setUrls([QUrl(original["page_url"])])  # the viewer page: HTML, not an image

    with qtbot.waitSignal(service.batch_finished, timeout=TIMEOUT):
        drop(window.drop_zone, mime)

    (job,) = service.jobs()
    assert job.state is JobState.FAILED
    assert "is not an image" in window.queue_view.row(job.key).detail.text()
    assert requests.get(f"{live_server.url}/api/images/{original['id']}", timeout=10).ok


def test_drop_zone_refuses_what_it_cannot_take(make_service, make_window, live_server):
    window = make_window(make_service(live_server.url))
    mime = QMimeData()
    mime.setText("just some words")
    pos = window.drop_zone.rect().center()
    enter = QDragEnterEvent(
        pos,
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(window.drop_zone, enter)
    assert not enter.isAccepted()
    assert not window.drops.hovering


def test_paste_uploads_the_clipboard_image(live_server, make_service, make_window, qtbot, qapp):
    service = make_service(live_server.url)
    window = make_window(service)
    image = QImage(10, 10, QImage.Format.Format_RGB32)
    image.fill(Qt.GlobalColor.red)
    qapp.clipboard().setImage(image)
    with qtbot.waitSignal(service.job_done, timeout=TIMEOUT) as done:
        window.paste()
    assert qapp.clipboard().text() == service.job(done.args[0]).result.url


# -- the queue's behaviour -------------------------------------------------------------------------
def test_progress_rises_monotonically_to_the_file_size(live_server, make_service, images, qtbot):
    service = make_service(live_server.url)
    (path,) = images(1, side=700)  # ~1.5 MB of incompressible pixels
    reports: list[tuple[int, int]] = []
    service.job_progress.connect(lambda _key, sent, total: reports.append((sent, total)))

    with qtbot.waitSignal(service.job_done, timeout=TIMEOUT) as done:
        service.enqueue(file_sources([path]))

    job = service.job(done.args[0])
    sents = [sent for sent, _ in reports]
    assert len(reports) >= 2
    assert sents == sorted(sents)
    assert {total for _, total in reports} == {job.size}
    assert sents[-1] == job.size == job.result.size


def test_thumbnails_wait_for_the_uploads_under_way(
    live_server, make_service, images, qtbot, monkeypatch
):
    """A row's thumbnail is made once the uploads are over (it would take the CPU and the GIL
    from them), not after the hold-back, which is set beyond this test here."""
    from desktop.core import thumbnailer

    monkeypatch.setattr(thumbnailer, "HOLD_BACK", 600.0)
    service = make_service(live_server.url)
    made_before_the_end: list[bool] = []
    service.batch_finished.connect(
        lambda _batch: made_before_the_end.append(any(j.thumbnail for j in service.jobs()))
    )

    with qtbot.waitSignal(service.batch_finished, timeout=TIMEOUT):
        service.enqueue(file_sources(images(3)))

    assert made_before_the_end == [False]
    qtbot.waitUntil(lambda: all(j.thumbnail for j in service.jobs()), timeout=TIMEOUT)


def test_client_strips_metadata_and_the_row_says_what(
    live_server, make_service, make_window, samples, tmp_path, qtbot
):
    from backend.images import Limits, probe, strip_metadata

    service = make_service(live_server.url)
    window = make_window(service)
    path = tmp_path / "holiday.jpg"
    path.write_bytes(samples.jpeg_with_gps())
    expected = strip_metadata(path.read_bytes(), probe(path.read_bytes(), Limits()))
    assert expected.removed, "the sample carries metadata"

    with qtbot.waitSignal(service.job_done, timeout=TIMEOUT) as done:
        service.enqueue(file_sources([path]))

    job = service.job(done.args[0])
    assert job.removed == list(expected.removed)
    meta = window.queue_view.row(job.key).meta.text()
    assert "Removed: " + ", ".join(expected.removed) in meta
    assert requests.get(job.result.url, timeout=10).content == expected.data


def test_cancel_mid_upload_leaves_nothing_on_the_server(
    live_server, make_service, make_window, fault_proxy, images, qtbot, catalog
):
    proxy = fault_proxy(live_server.url, rate=2_000_000)  # a 2 MB/s link
    service = make_service(proxy.url)
    window = make_window(service)
    (path,) = images(1, side=1600)  # ~7.7 MB: several seconds on that link

    with qtbot.waitSignal(
        service.job_progress, timeout=TIMEOUT, check_params_cb=lambda k, s, t: s > 0
    ):
        service.enqueue(file_sources([path]))
    (job,) = service.jobs()
    window.queue_view.row(job.key).cancel_button.click()

    assert job.state is JobState.CANCELLED
    assert window.queue_view.row(job.key).badge.text() == "Cancelled"
    # The worker notices at its next chunk and drops the connection; the proxy sees it go.
    qtbot.waitUntil(lambda: service.pool.activeThreadCount() == 0, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: proxy.active_uploads == 0, timeout=TIMEOUT)
    assert proxy.body_bytes < job.size / 2
    assert catalog.count(live_server.settings.data_dir) == 0
    assert service.history.get(job.key).state is JobState.CANCELLED


def test_503_twice_then_201_stores_exactly_one_image(
    live_server, make_service, fault_proxy, samples, tmp_path, qtbot, catalog
):
    proxy = fault_proxy(live_server.url, fail_uploads=2)
    service = make_service(proxy.url)
    path = tmp_path / "once.png"
    path.write_bytes(samples.png(50, 50, "purple"))

    with qtbot.waitSignal(service.job_done, timeout=TIMEOUT) as done:
        service.enqueue(file_sources([path]))

    job = service.job(done.args[0])
    assert proxy.upload_attempts == 3
    assert len(set(proxy.idempotency_keys)) == 1 and proxy.idempotency_keys[0] == job.idem_key
    assert catalog.count(live_server.settings.data_dir) == 1
    assert requests.get(job.result.url, timeout=10).status_code == 200


def photo(fmt: str, *, alpha: bool = False) -> bytes:
    """A 60x40 image in `fmt`, with EXIF saying: a GPS position, and turn it upright (6: 90°)."""
    image = Image.new("RGBA" if alpha else "RGB", (60, 40), "tomato")
    image.paste("navy", (0, 0, 30, 40))  # left half navy: shows which way it was turned
    exif = Image.Exif()
    exif[0x0112] = 6
    exif.get_ifd(0x8825)[2] = (52.0, 31.0, 12.0)
    out = io.BytesIO()
    image.save(out, fmt, **({} if fmt == "BMP" else {"exif": exif.tobytes()}))
    return out.getvalue()


@pytest.mark.parametrize(
    ("fmt", "name", "sent_as", "note"),
    [
        ("BMP", "scan.bmp", "scan.png", "Converted from BMP to PNG"),
        ("TIFF", "scan.tiff", "scan.png", "Converted from TIFF to PNG"),
        ("HEIF", "IMG_0001.HEIC", "IMG_0001.jpg", "Converted from HEIF to JPEG"),
        ("AVIF", "photo.avif", "photo.jpg", "Converted from AVIF to JPEG"),
    ],
)
def test_formats_the_server_refuses_are_converted_here(
    live_server, make_service, make_window, tmp_path, qtbot, fmt, name, sent_as, note
):
    if fmt == "HEIF":
        pytest.importorskip("pillow_heif")
    service = make_service(live_server.url)
    window = make_window(service)
    path = tmp_path / name
    path.write_bytes(photo(fmt))
    with pytest.raises(ApiError) as direct:  # as it is, the server refuses it
        PicdropClient(live_server.url).upload(
            path.read_bytes(), name, "application/octet-stream", idempotency_key="x" * 32
        )
    assert direct.value.status == 415

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    with qtbot.waitSignal(service.batch_finished, timeout=TIMEOUT):
        drop(window.drop_zone, mime)
    (job,) = service.jobs()
    assert job.state is JobState.DONE, job.error
    assert job.name == sent_as
    assert note in window.queue_view.row(job.key).meta.text()
    served = requests.get(job.result.url, timeout=10).content
    with Image.open(io.BytesIO(served)) as image:
        assert not image.getexif() and "xmp" not in image.info
        upright = image.convert("RGB")
    if fmt == "BMP":  # no EXIF: as it was
        assert upright.size == (60, 40)
        assert upright.getpixel((5, 20))[2] > 100 > upright.getpixel((55, 20))[2]
    else:  # turned upright by its EXIF orientation: navy (the left half) is on top now
        assert upright.size == (40, 60)
        assert upright.getpixel((20, 5))[2] > 100 > upright.getpixel((20, 55))[2]


@pytest.mark.parametrize(
    ("name", "content"),
    [("notes.txt", b"a shopping list\n"), ("fake.png", b"not a png, a private note\n")],
)
def test_what_is_not_an_image_is_refused_before_any_byte_is_sent(
    live_server, make_service, make_window, fault_proxy, tmp_path, qtbot, name, content
):
    proxy = fault_proxy(live_server.url)
    service = make_service(proxy.url)
    window = make_window(service)
    path = tmp_path / name
    path.write_bytes(content)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    with qtbot.waitSignal(service.batch_finished, timeout=TIMEOUT):
        drop(window.drop_zone, mime)
    (job,) = service.jobs()
    row = window.queue_view.row(job.key)
    assert job.state is JobState.FAILED
    assert row.detail.text().startswith(f"{name} is not an image, so nothing was sent.")
    assert not row.retry_button.isVisibleTo(row)  # a permanent refusal: retrying cannot help
    assert (proxy.upload_attempts, proxy.body_bytes) == (0, 0)


def test_batch_completes_when_the_server_is_killed_and_comes_back(
    backend_process, make_service, make_window, images, qtbot, catalog
):
    backend_process.start().wait()
    service = make_service(
        backend_process.url, parallel=2, policy=RetryPolicy(max_attempts=200, base=0.05, cap=0.3)
    )
    window = make_window(service)
    paths = images(6, side=300)
    killed: list[str] = []

    def kill_on_first_done(key: str) -> None:
        if not killed:
            killed.append(key)
            backend_process.kill()  # SIGKILL: no graceful shutdown, requests in flight die

    service.job_done.connect(kill_on_first_done)
    service.enqueue(file_sources(paths))
    qtbot.waitUntil(lambda: bool(killed), timeout=TIMEOUT)
    # The rows say what is happening while the server is away.
    qtbot.waitUntil(
        lambda: any("Cannot reach" in j.status for j in service.jobs()), timeout=TIMEOUT
    )
    waiting = next(j for j in service.jobs() if j.status)
    assert "retrying in" in window.queue_view.row(waiting.key).detail.text()

    backend_process.start().wait()  # same port, same data directory
    jobs = finished_jobs(service, qtbot, 6)
    assert all(j.state is JobState.DONE for j in jobs)
    assert catalog.count(backend_process.data_dir) == 6
    assert sorted(catalog.sha256s(backend_process.data_dir)) == sorted(
        j.result.sha256 for j in jobs
    )


class LongestWait(random.Random):
    """Backoff jitter at its ceiling: the wait is exactly the policy's cap."""

    def uniform(self, a: float, b: float) -> float:
        return b


def test_retry_now_ends_a_waiting_rows_backoff(
    live_server, make_service, make_window, fault_proxy, images, qtbot
):
    proxy = fault_proxy(live_server.url, fail_uploads=1)
    policy = RetryPolicy(max_attempts=3, base=600, cap=600, rng=LongestWait())
    service = make_service(proxy.url, policy=policy)
    window = make_window(service)
    service.enqueue(file_sources(images(1)))
    qtbot.waitUntil(lambda: any(j.waiting for j in service.jobs()), timeout=TIMEOUT)
    (job,) = service.jobs()
    row = window.queue_view.row(job.key)
    assert "retrying in 600 s" in row.detail.text()
    assert row.retry_button.isVisibleTo(row) and row.retry_button.toolTip() == "Retry now"
    with qtbot.waitSignal(service.job_done, timeout=TIMEOUT):
        row.retry_button.click()  # not ten minutes from now
    assert job.state is JobState.DONE and proxy.upload_attempts == 2
