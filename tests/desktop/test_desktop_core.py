"""The Qt-free core: link formats, retry policy, intake, queue model, history store."""

from __future__ import annotations

import base64
import io
import json
import random
from pathlib import Path

import pytest
import requests

from desktop.core.api import ApiError, ServerUnreachable
from desktop.core.convert import NotAnImage
from desktop.core.history import HistoryItem, HistoryStore
from desktop.core.intake import (
    MAX_DOWNLOAD_BYTES,
    BytesSource,
    FileSource,
    IntakeError,
    UrlSource,
    download_image,
    expand_paths,
    image_sources_in_html,
    parse_data_uri,
    sources_from_drop,
)
from desktop.core.jobs import Job, JobQueue, JobState
from desktop.core.links import LinkFormat, LinkInfo, format_link, format_links, unknown_placeholders
from desktop.core.prepare import prepare
from desktop.core.printable import printable
from desktop.core.retry import RetryPolicy

INFO = LinkInfo(
    url="https://p.example/aB3dE5gH7j.png",
    page_url="https://p.example/aB3dE5gH7j",
    thumbnail_url="https://p.example/t/aB3dE5gH7j.webp",
    delete_url="https://p.example/delete/aB3dE5gH7j/tok",
    width=640,
    height=480,
    name="cat [1].png",
)


# -- links -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        (LinkFormat.URL, "https://p.example/aB3dE5gH7j.png"),
        (LinkFormat.PAGE_URL, "https://p.example/aB3dE5gH7j"),
        (LinkFormat.MARKDOWN, "![image](https://p.example/aB3dE5gH7j.png)"),
        (
            LinkFormat.HTML,
            '<a href="https://p.example/aB3dE5gH7j"><img src="https://p.example/aB3dE5gH7j.png" '
            'alt="image" width="640" height="480"></a>',
        ),
        (
            LinkFormat.BBCODE,
            "[url=https://p.example/aB3dE5gH7j][img]https://p.example/aB3dE5gH7j.png[/img][/url]",
        ),
    ],
)
def test_link_formats(fmt: LinkFormat, expected: str) -> None:
    assert format_link(INFO, fmt) == expected


@pytest.mark.parametrize("fmt", list(LinkFormat))
def test_the_local_file_name_leaves_only_when_the_template_asks(fmt: LinkFormat) -> None:
    """The alt text is neutral: a file name like photo_gps.jpg tells about the uploader."""
    assert "cat" not in format_link(INFO, fmt, fmt.template)
    assert "cat [1].png" in format_link(INFO, LinkFormat.TEMPLATE, "![{name}]({url})")


def test_template_fills_every_placeholder_and_leaves_other_braces() -> None:
    template = "{url} {page_url} {thumbnail_url} {delete_url} {width}x{height} {unknown} {}"
    text = format_link(INFO, LinkFormat.TEMPLATE, template)
    assert text == (
        "https://p.example/aB3dE5gH7j.png https://p.example/aB3dE5gH7j "
        "https://p.example/t/aB3dE5gH7j.webp https://p.example/delete/aB3dE5gH7j/tok "
        "640x480 {unknown} {}"
    )
    assert unknown_placeholders(template) == ["unknown"]


def test_batch_is_one_link_per_line() -> None:
    assert format_links([INFO, INFO], LinkFormat.URL) == f"{INFO.url}\n{INFO.url}"


# -- retry ---------------------------------------------------------------------------------------
def policy(**kw) -> RetryPolicy:
    return RetryPolicy(rng=random.Random(7), **kw)


@pytest.mark.parametrize("status", [500, 502, 503, 507, 429])
def test_retries_5xx_and_429(status: int) -> None:
    assert policy().delay(1, ApiError(status, "busy")) is not None


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413, 415, 422, 451])
def test_never_retries_other_4xx(status: int) -> None:
    assert policy().delay(1, ApiError(status, "no")) is None


def test_retries_connection_errors_with_full_jitter_up_to_a_limit() -> None:
    p = policy(base=1.0, cap=8.0, max_attempts=5)
    error = ServerUnreachable("http://h", "connection refused")
    delays = [p.delay(attempt, error) for attempt in range(1, 5)]
    for attempt, delay in enumerate(delays, start=1):
        assert delay is not None
        assert 0 <= delay <= min(8.0, 2 ** (attempt - 1))
    assert p.delay(5, error) is None


def test_honours_retry_after() -> None:
    assert policy(base=0.01, cap=0.01).delay(1, ApiError(429, "slow down", retry_after=7)) == 7
    assert policy(max_retry_after=60).delay(1, ApiError(429, "later", retry_after=3600)) is None


# -- intake --------------------------------------------------------------------------------------
def test_folders_expand_to_their_images(tmp_path: Path) -> None:
    (tmp_path / "a" / "deep").mkdir(parents=True)
    for name in ("a/one.PNG", "a/deep/two.jpg", "a/notes.txt", "b.webp", "c.txt"):
        (tmp_path / name).write_bytes(b"x")
    found = expand_paths([tmp_path / "a", tmp_path / "b.webp", tmp_path / "c.txt", tmp_path / "a"])
    rel = [p.relative_to(tmp_path).as_posix() for p in found]
    # Folder contents: images only; files named explicitly: as given (the server judges).
    assert rel == ["a/deep/two.jpg", "a/one.PNG", "b.webp", "c.txt"]


def test_data_uri_in_html(samples) -> None:
    data = samples.png()
    html = f'<p>hi</p><img alt="x" src="data:image/png;base64,{base64.b64encode(data).decode()}">'
    (source,) = sources_from_drop(html=html)
    assert isinstance(source, BytesSource)
    assert source.data == data and source.mime == "image/png"


def test_browser_drag_prefers_img_src_over_page_url() -> None:
    html = '<a href="https://site.example/page"><img src="https://cdn.example/full.jpg"></a>'
    sources = sources_from_drop(html=html, urls=["https://site.example/page"])
    assert sources == [UrlSource("https://cdn.example/full.jpg")]


def test_local_files_win_and_plain_urls_are_taken() -> None:
    assert sources_from_drop(paths=[Path("/x/a.png")], image=(b"..", "image/png")) == [
        FileSource(Path("/x/a.png"))
    ]
    assert sources_from_drop(text="https://e.example/a.gif\nnot a url") == [
        UrlSource("https://e.example/a.gif")
    ]
    assert sources_from_drop(text="just words") == []


def test_data_uri_must_be_an_image() -> None:
    with pytest.raises(IntakeError):
        parse_data_uri("data:text/html;base64,PGgxPg==")
    assert image_sources_in_html("<img src='a.png'><img>") == ["a.png"]


# -- queue ---------------------------------------------------------------------------------------
def test_queue_starts_at_most_parallel_jobs_in_order() -> None:
    queue = JobQueue(parallel=2)
    jobs = [queue.add(Job(key=str(i), name=f"{i}.png", batch="b", ready=True)) for i in range(4)]
    assert [j.key for j in queue.next_to_start()] == ["0", "1"]
    jobs[0].state = jobs[1].state = JobState.UPLOADING
    assert queue.next_to_start() == []
    jobs[0].state = JobState.DONE
    assert [j.key for j in queue.next_to_start()] == ["2"]
    assert not queue.batch_finished("b")
    for job in jobs:
        job.state = JobState.DONE
    assert queue.batch_finished("b") and queue.idle()


# -- history -------------------------------------------------------------------------------------
def item(key: str, name: str, created: float) -> HistoryItem:
    return HistoryItem(
        key=key, idem_key=key, batch="b", name=name, size=3, mime="image/png",
        state=JobState.QUEUED, server="http://s", created_at=created,
    )  # fmt: skip


def test_history_keeps_queued_jobs_with_their_bytes(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path / "h.sqlite3")
    store.add_queued(item("k1", "first.png", 1.0), b"abc")
    store.add_queued(item("k2", "second.png", 2.0), b"def")
    store.set_state("k2", JobState.UPLOADING)
    store.close()

    store = HistoryStore(tmp_path / "h.sqlite3")  # a later run
    assert [i.key for i in store.unfinished()] == ["k1", "k2"]
    assert store.payload("k1") == b"abc"
    assert [i.name for i in store.items()] == ["second.png", "first.png"]  # newest first
    assert [i.name for i in store.items("SEC")] == ["second.png"]
    assert store.items("%") == []  # LIKE wildcards are literal
    store.forget("k1")
    assert store.get("k1") is None and store.payload("k1") is None
    store.close()


def test_history_updates_handed_to_the_writer_are_seen_by_the_next_read(tmp_path: Path) -> None:
    import sqlite3
    import threading

    store = HistoryStore(tmp_path / "h.sqlite3")
    store.add_queued(item("k1", "first.png", 1.0), b"abc")
    # A writer busy elsewhere (another connection holds the write lock for a moment).
    other = sqlite3.connect(tmp_path / "h.sqlite3", isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.2, lambda: other.execute("COMMIT"))
    release.start()
    store.set_state("k1", JobState.UPLOADING, wait=False)  # returns at once
    store.set_state("k1", JobState.FAILED, "boom", wait=False)
    got = store.get("k1")  # waits for both, in order
    release.join()
    other.close()
    assert got is not None and got.state is JobState.FAILED and got.error == "boom"
    store.close()
    assert HistoryStore(tmp_path / "h.sqlite3").get("k1").state is JobState.FAILED


def test_history_databases_get_big_pages_once(tmp_path: Path) -> None:
    import sqlite3

    old = sqlite3.connect(tmp_path / "old.sqlite3")
    old.execute("PRAGMA journal_mode=WAL")
    old.execute("CREATE TABLE keep (a)")
    old.execute("INSERT INTO keep VALUES (1)")
    old.commit()
    old.close()
    store = HistoryStore(tmp_path / "old.sqlite3")
    store.add_queued(item("k1", "first.png", 1.0), b"abc")
    store.close()
    db = sqlite3.connect(tmp_path / "old.sqlite3")
    assert db.execute("PRAGMA page_size").fetchone()[0] == 65536
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("SELECT a FROM keep").fetchall() == [(1,)]
    db.close()


def test_thumbnailer_runs_jobs_in_order_and_stops() -> None:
    import threading

    from desktop.core.thumbnailer import Thumbnailer

    done: list[str] = []
    finished = threading.Event()

    def work(key: str, data: bytes) -> None:
        done.append(key)
        if key == "c":
            finished.set()

    thumbnailer = Thumbnailer(work)
    for key in "abc":
        thumbnailer.submit(key, b"")
    assert finished.wait(5)
    thumbnailer.stop()
    assert done == ["a", "b", "c"]


@pytest.mark.parametrize("hold_back", [0.05, 600.0])
def test_thumbnailer_holds_back_while_busy_until_quiet_or_the_hold_back_is_over(
    hold_back, monkeypatch
) -> None:
    import threading

    from desktop.core import thumbnailer

    monkeypatch.setattr(thumbnailer, "HOLD_BACK", hold_back)
    made = threading.Event()
    maker = thumbnailer.Thumbnailer(lambda key, data: made.set())
    maker.set_busy(True)
    maker.submit("a", b"")
    if hold_back > 1:  # held while uploads are under way...
        assert not made.wait(0.3)
        maker.set_busy(False)  # ...and made as soon as they are over
    assert made.wait(5)
    maker.stop()


@pytest.mark.parametrize(
    ("path", "max_bytes", "sentence"),
    [
        ("/{id}.png", 100, "is too large"),  # over the size cap
        ("/{id}", None, "is not an image"),  # the viewer page is HTML
        ("/AAAAAAAAAA.png", None, "the site answered 404"),
    ],
)
def test_download_image_refusals(live_server, hosted, samples, path, max_bytes, sentence):
    url = live_server.url + path.format(id=hosted(samples.png())["id"])
    with pytest.raises(IntakeError, match=sentence):
        download_image(url, max_bytes=max_bytes or MAX_DOWNLOAD_BYTES)


def test_download_image_fetches_the_bytes(hosted, samples):
    url = hosted(samples.png())["url"]
    got = download_image(url)
    assert got.data == requests.get(url, timeout=10).content


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("\x1b]0;title\x07", "\\u001b]0;title\\u0007"),  # OSC: retitle the terminal
        ("\x1b[2J\x1b[H", "\\u001b[2J\\u001b[H"),  # CSI: clear the screen
        ("a\rb\nc\td\x00", "a\\u000db\\u000ac\\u0009d\\u0000"),
        ("\x7f\x9b31m", "\\u007f\\u009b31m"),  # DEL, and C1's one-byte CSI
        ("abc\u202etxt.exe", "abc\\u202etxt.exe"),  # bidi override: reads as exe.txt
        ("line\u2028sep", "line\\u2028sep"),
        ("Größe 📷 日本 — ok", "Größe 📷 日本 — ok"),  # printable text stays as it is
    ],
)
def test_printable_escapes_every_control_character(text, shown) -> None:
    assert printable(text) == shown
    # The escapes are JSON's: an escaped JSON line still decodes to the original.
    assert json.loads(printable(json.dumps({"v": text}, ensure_ascii=False))) == {"v": text}


# -- converting on this computer ---------------------------------------------------------------
def with_exif(fmt: str, mode: str = "RGB") -> bytes:
    from PIL import Image

    image = Image.new(mode, (30, 20), (255, 99, 71, 128) if mode == "RGBA" else "tomato")
    exif = Image.Exif()
    exif[0x0112] = 8  # orientation: 270°
    exif[0x0110] = "Secret Camera"
    exif.get_ifd(0x8825)[2] = (52.0, 31.0, 12.0)
    out = io.BytesIO()
    image.save(out, fmt, exif=exif.tobytes())
    return out.getvalue()


@pytest.mark.parametrize(
    ("fmt", "mode", "mime", "name"),
    [
        ("TIFF", "RGB", "image/png", "a.png"),
        ("TIFF", "RGBA", "image/png", "a.png"),
        ("AVIF", "RGB", "image/jpeg", "a.jpg"),
        ("AVIF", "RGBA", "image/png", "a.png"),  # transparency kept: PNG, not JPEG
        ("HEIF", "RGB", "image/jpeg", "a.jpg"),
    ],
)
def test_conversion_is_upright_and_has_no_metadata(fmt, mode, mime, name) -> None:
    from PIL import Image

    if fmt == "HEIF":
        pytest.importorskip("pillow_heif")
    prepared = prepare(f"a.{fmt.lower()}", with_exif(fmt, mode), thumbnail=False)
    assert (prepared.mime, prepared.name, prepared.converted_from) == (mime, name, fmt)
    assert b"Secret Camera" not in prepared.data and b"Exif" not in prepared.data
    with Image.open(io.BytesIO(prepared.data)) as image:
        assert image.size == (20, 30) and not image.getexif()
        assert ("A" in image.mode) is (mode == "RGBA")


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (b"", "thing.png is empty, so nothing was sent"),
        (b"plain text", "thing.png is not an image, so nothing was sent"),
        (b"%PDF-1.7 a document", "thing.png is not an image, so nothing was sent"),
    ],
)
def test_what_is_not_an_image_is_refused_by_prepare(data, said) -> None:
    with pytest.raises(NotAnImage, match=said):
        prepare("thing.png", data, thumbnail=False)


@pytest.mark.parametrize(
    "error",
    [
        requests.exceptions.SSLError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"),
        requests.exceptions.InvalidURL(
            "Failed to parse: Host 'not a url' contains invalid character"
        ),
        requests.exceptions.InvalidHeader("Invalid leading whitespace"),
    ],
)
def test_what_a_person_reads_is_a_sentence_not_an_exception(error, monkeypatch) -> None:
    """Raw exception text ("Failed to parse…", class names) never reaches a row."""
    from desktop.core.api import PicdropClient, PicdropError
    from desktop.core.uploader import describe_error

    client = PicdropClient("https://img.example.com")

    def fail(*_a, **_kw):
        raise error

    monkeypatch.setattr(client.session, "request", fail)
    with pytest.raises(PicdropError) as failed:
        client.health()
    said = describe_error(failed.value)
    assert said.startswith("Cannot reach https://img.example.com") or "img.example.com" in said
    for raw in ("Failed to parse", "SSL:", "Error", "Invalid"):
        assert raw not in said
