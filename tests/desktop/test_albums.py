"""Albums from the desktop: "Copy album link" after a batch, the album kept in History (and
deleted from there, its images staying), `picdrop upload --album`, and servers that cannot make
one. Against the real backend on 127.0.0.1; the choice of uploads is tested without Qt."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest
import requests
from PySide6.QtWidgets import QMessageBox

from desktop.commands.status import EXIT_FAILED, EXIT_OK
from desktop.core.albums import AlbumFailed, AlbumRequest, album_request, make_album
from desktop.core.api import AlbumResult, PicdropClient, UploadResult
from desktop.core.config import AppConfig
from desktop.core.history import HistoryStore
from desktop.core.intake import BytesSource
from desktop.core.jobs import Job, JobState
from desktop.server_actions import ServerActions
from tests.desktop.conftest import png_bytes

TIMEOUT = 20_000
SERVER = "http://picdrop.test"
OTHER = "https://other.test"
SXCU = "sxcu:imgur"


def job(n: int, state: JobState = JobState.DONE, destination: str = SERVER) -> Job:
    result = UploadResult(
        id=f"img{n}", url=f"{destination}/img{n}.png", page_url="", thumbnail_url="",
        delete_url="", delete_token=f"tok{n}", width=1, height=1, size=1, mime="image/png",
        sha256="0" * 64,
    )  # fmt: skip
    done = state in (JobState.DONE, JobState.DELETED)
    return Job(
        f"k{n}", f"{n}.png", "b", state=state, destination=destination,
        result=result if done else None,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("jobs", "expected"),
    [
        ([job(1), job(2), job(3)], (SERVER, [1, 2, 3])),
        ([job(1)], None),  # one image needs no album
        ([job(1), job(2, JobState.FAILED), job(3, JobState.UPLOADING)], None),
        ([job(1), job(2, JobState.DELETED), job(3)], (SERVER, [1, 3])),
        ([job(1, destination=SXCU), job(2, destination=SXCU)], None),  # albums are picdrop's
        ([job(1, destination=SXCU), job(2), job(3)], (SERVER, [2, 3])),
        # Uploads to two servers: the album is made where the newest went.
        ([job(1), job(2), job(3, destination=OTHER), job(4, destination=OTHER)], (OTHER, [3, 4])),
        ([job(1), job(2), job(3, destination=OTHER)], None),
    ],
)
def test_an_album_holds_the_finished_uploads_on_one_picdrop_server(jobs, expected) -> None:
    request = album_request(jobs)
    if expected is None:
        assert request is None
    else:
        server, numbers = expected
        assert request == AlbumRequest(server, tuple((f"img{n}", f"tok{n}") for n in numbers))


def test_an_old_history_database_keeps_its_rows_as_images_and_takes_albums(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE uploads (key TEXT PRIMARY KEY, idem_key TEXT NOT NULL, batch TEXT NOT NULL, "
        "name TEXT NOT NULL, size INTEGER NOT NULL, mime TEXT NOT NULL, state TEXT NOT NULL, "
        "error TEXT NOT NULL DEFAULT '', server TEXT NOT NULL, removed TEXT NOT NULL DEFAULT '[]', "
        "image_id TEXT, url TEXT, page_url TEXT, thumbnail_url TEXT, "
        "delete_url TEXT, delete_token TEXT, width INTEGER, height INTEGER, sha256 TEXT, "
        "expires TEXT, created_at REAL NOT NULL, updated_at REAL NOT NULL)"
    )
    db.execute(
        "INSERT INTO uploads (key, idem_key, batch, name, size, mime, state, server, url, "
        "created_at, updated_at) VALUES ('k1', 'k1', 'b', 'holiday.png', 3, 'image/png', "
        "'done', 'http://s', 'http://s/x.png', 1.0, 1.0)"
    )
    db.commit()
    db.close()
    store = HistoryStore(path)
    try:
        assert not store.get("k1").is_album
        album = AlbumResult("alb", "http://s/a/alb", "secret", 3)
        made = store.add_album("k2", "http://s", album)
        assert made.is_album and made.state is JobState.DONE and made.name == "Album of 3 images"
        assert store.find("http://s/a/alb") == made and made.delete_token == "secret"
        assert [i.key for i in store.items("Album")] == ["k2"]
    finally:
        store.close()


@pytest.mark.parametrize(
    ("kind", "actions"),
    [("album", {"copy", "open", "delete", "forget"}),
     ("image", {"copy", "open", "more", "delete", "forget"})],
)  # fmt: skip
def test_history_offers_no_image_to_copy_or_save_for_an_album(kind, actions) -> None:
    from desktop.core.history import HistoryItem
    from desktop.ui.history_view import available_actions

    album = HistoryItem(
        "k", "k", "", "Album of 2 images", 0, "", JobState.DONE, SERVER, 1.0,
        url=f"{SERVER}/a/alb", delete_token="t", kind=kind,
    )  # fmt: skip
    assert available_actions([album]) == actions


@pytest.mark.parametrize(
    ("fmt", "image_line"),
    [("html", '<a href="{url}"><img src="{url}" alt="image" width="1" height="1"></a>'),
     ("markdown", "![image]({url})"),
     ("bbcode", "[url={url}][img]{url}[/img][/url]")],
)  # fmt: skip
def test_history_copies_an_album_as_its_link_in_every_format(
    make_service, make_window, history, qapp, fmt, image_line
) -> None:
    url = f"{SERVER}/img1.png"
    history.add_queued(job_item("k1"), b"png")
    history.set_done("k1", replace(job(1).result, url=url, page_url=url))
    history.add_album("k2", SERVER, AlbumResult("alb", f"{SERVER}/a/alb", "secret", 2))
    service = make_service("http://127.0.0.1:9")
    service.set_paused(True)
    window = make_window(service)
    window.copy_history_items(["k2", "k1"], fmt)
    assert qapp.clipboard().text() == f"{SERVER}/a/alb\n" + image_line.format(url=url)


def job_item(key: str):
    from desktop.core.history import HistoryItem

    return HistoryItem(key, key, "b", "1.png", 3, "image/png", JobState.QUEUED, SERVER, 1.0)


def album_of(link: str) -> requests.Response:
    base, album_id = link.rsplit("/a/", 1)
    return requests.get(f"{base}/api/albums/{album_id}", timeout=5)


def test_copy_album_link_after_a_batch_then_delete_the_album_from_history(
    live_server, make_service, make_window, history, qtbot, qapp, monkeypatch
) -> None:
    service = make_service(live_server.url)
    window = make_window(service)
    assert not window.album_button.isVisible()
    with qtbot.waitSignal(service.batch_finished, timeout=TIMEOUT):
        service.enqueue(
            [BytesSource(png_bytes(color=c), f"{c}.png") for c in ("red", "blue", "tan")]
        )
    images = [j.result.id for j in service.jobs()]
    assert window.album_button.isVisible() and window.copy_all_button.isVisible()

    qapp.clipboard().clear()
    window.album_button.click()
    window.album_button.click()  # again before the answer came: still one album
    album = f"{live_server.url}/a/"
    qtbot.waitUntil(lambda: qapp.clipboard().text().startswith(album), timeout=TIMEOUT)
    link = qapp.clipboard().text()
    assert service.findChild(ServerActions).pool.waitForDone(TIMEOUT)
    qapp.processEvents()  # any other answer is handled
    assert window.toast.text() == "Album link copied"
    listed = album_of(link)
    assert listed.status_code == 200
    assert [i["id"] for i in listed.json()["images"]] == images
    assert requests.get(link, timeout=5).status_code == 200  # the album page
    item = history.find(link)
    assert item is not None and item.is_album and item.delete_token

    # Asked again: the same album, not a second one.
    qapp.clipboard().clear()
    window.album_button.click()
    qtbot.waitUntil(lambda: qapp.clipboard().text() == link, timeout=TIMEOUT)
    assert [i.key for i in history.items() if i.is_album] == [item.key]

    asked: list[str] = []
    monkeypatch.setattr(
        QMessageBox, "question",
        lambda _p, _t, text, *a, **k: asked.append(text) or QMessageBox.StandardButton.Yes,
    )  # fmt: skip
    window.delete_history_items([item.key])
    assert "images stay" in asked[-1]
    qtbot.waitUntil(lambda: history.get(item.key).state is JobState.DELETED, timeout=TIMEOUT)
    assert album_of(link).status_code == 404
    for job_ in service.jobs():
        assert requests.get(job_.result.url, timeout=5).status_code == 200
        assert history.get(job_.key).state is JobState.DONE


@pytest.mark.parametrize("auto_album", [True, False])
def test_settings_make_an_album_of_each_batch(
    live_server, make_service, make_window, history, qtbot, qapp, auto_album
) -> None:
    from desktop.ui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(AppConfig(auto_album=auto_album))
    assert dialog.auto_album.isChecked() is auto_album
    config = dialog.config()
    dialog.deleteLater()
    service = make_service(live_server.url)
    window = make_window(service, config)
    qapp.clipboard().clear()
    with qtbot.waitSignal(service.batch_finished, timeout=TIMEOUT):
        service.enqueue([BytesSource(png_bytes(color=c), f"{c}.png") for c in ("red", "tan")])
    links = "\n".join(j.result.url for j in service.jobs())
    if auto_album:
        album = f"{live_server.url}/a/"
        qtbot.waitUntil(lambda: qapp.clipboard().text().startswith(album), timeout=TIMEOUT)
        assert [i["url"] for i in album_of(qapp.clipboard().text()).json()["images"]] == (
            links.split("\n")
        )
    else:
        assert qapp.clipboard().text() == links
        assert window.album_button.isVisible()  # made only when asked
    assert any(i.is_album for i in history.items()) is auto_album


def test_a_server_without_albums_says_so_in_plain_words(
    live_server, fault_proxy, make_service, make_window, history, qtbot
) -> None:
    older = fault_proxy(live_server.url, missing=("/api/albums",))
    service = make_service(older.url)
    window = make_window(service)
    with qtbot.waitSignal(service.batch_finished, timeout=TIMEOUT):
        service.enqueue([BytesSource(png_bytes(color=c), f"{c}.png") for c in ("red", "tan")])
    window.album_button.click()
    qtbot.waitUntil(lambda: "cannot make albums" in window.toast.text(), timeout=TIMEOUT)
    assert window.toast.text().startswith(f"{older.url} cannot make albums")
    assert not any(i.is_album for i in history.items())


@pytest.mark.parametrize(
    ("where", "members", "said", "unreachable"),
    [
        ("unreachable", [], "The album was not made: Cannot reach", True),
        ("live", [("nosuchimage1", "token")], "not made: Refused by the server", False),
        ("older", [], "cannot make albums", False),
    ],
)
def test_an_album_not_made_is_one_sentence(
    live_server, fault_proxy, hosted, where, members, said, unreachable
) -> None:
    server = {
        "unreachable": "http://127.0.0.1:9",
        "live": live_server.url,
        "older": fault_proxy(live_server.url, missing=("/api/albums",)).url,
    }[where]
    ours = [(r["id"], r["delete_token"]) for r in (hosted(png_bytes()), hosted(png_bytes(9, 9)))]
    client = PicdropClient(server)
    try:
        with pytest.raises(AlbumFailed) as failed:
            make_album(client, AlbumRequest(server, tuple(ours + members)))
    finally:
        client.close()
    assert said in str(failed.value) and "\n" not in str(failed.value)
    assert failed.value.unreachable is unreachable


def test_cli_upload_album_prints_its_link_last_and_delete_removes_only_it(
    live_server, run_cli, images, tmp_path
) -> None:
    client_dir = tmp_path / "client"
    paths = images(3)
    args = ("upload", "--album", "--data-dir", client_dir, "--server", live_server.url)
    result = run_cli(*args, *paths)
    assert result.returncode == EXIT_OK, result.stderr
    *links, link = result.stdout.decode().splitlines()
    assert len(links) == 3 and link.startswith(f"{live_server.url}/a/")
    assert [i["url"] for i in album_of(link).json()["images"]] == links

    as_json = run_cli(*args, "--format", "json", *paths[:2])
    assert as_json.returncode == EXIT_OK, as_json.stderr
    last = json.loads(as_json.stdout.decode().splitlines()[-1])
    assert last["album"].startswith(f"{live_server.url}/a/") and last["delete_token"]
    assert last["images"] == 2

    listed = run_cli("history", "--data-dir", client_dir, "--json").stdout.decode()
    rows = [json.loads(line) for line in listed.splitlines()]
    assert [r["url"] for r in rows if r["kind"] == "album"] == [last["album"], link]

    deleted = run_cli("delete", "--data-dir", client_dir, link)
    assert deleted.returncode == EXIT_OK, deleted.stderr
    assert album_of(link).status_code == 404
    assert all(requests.get(url, timeout=5).status_code == 200 for url in links)


def test_cli_album_on_a_server_without_albums_exits_1_after_the_links(
    live_server, fault_proxy, run_cli, images, tmp_path
) -> None:
    older = fault_proxy(live_server.url, missing=("/api/albums",))
    result = run_cli(
        "upload", "--album", "--data-dir", tmp_path / "client", "--server", older.url, *images(2)
    )
    assert result.returncode == EXIT_FAILED
    assert len(result.stdout.decode().splitlines()) == 2  # the images' links, no album
    assert f"{older.url} cannot make albums" in result.stderr.decode()
