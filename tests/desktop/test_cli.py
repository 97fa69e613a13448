"""The `picdrop` command as a child process against a real backend on 127.0.0.1: exit codes,
nothing but links (or JSON lines) on stdout, stdin, history, delete, server resolution, the
progress bar on a terminal, and the clipboard through the running app or a clipboard tool."""

from __future__ import annotations

import io
import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from PIL import Image, ImageChops
from PySide6.QtCore import QSettings

from desktop.clipboard import LinkCopier
from desktop.commands.status import (
    EXIT_CLOSED_PIPE,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
)
from desktop.core.config import AppConfig
from desktop.core.history import HistoryItem, HistoryStore
from desktop.core.jobs import JobState
from desktop.instance import InstanceServer
from desktop.remote import RemoteRequests
from desktop.settings import SettingsStore
from tests.conftest import require_program
from tests.desktop.conftest import REPO, delete_qobject, free_port, instance_address

TIMEOUT = 30_000


def lines(result: subprocess.CompletedProcess) -> list[str]:
    return result.stdout.decode().splitlines()


def same_image(url: str, path_or_bytes: Path | bytes) -> bool:
    served = requests.get(url, timeout=5)
    assert served.status_code == 200, url
    data = path_or_bytes if isinstance(path_or_bytes, bytes) else path_or_bytes.read_bytes()
    with Image.open(io.BytesIO(served.content)) as a, Image.open(io.BytesIO(data)) as b:
        a, b = a.convert("RGBA"), b.convert("RGBA")
        return a.size == b.size and ImageChops.difference(a, b).getbbox() is None


@pytest.fixture
def client_dir(tmp_path: Path) -> Path:
    return tmp_path / "client"


def test_upload_prints_only_links_and_records_history(
    live_server, run_cli, images, client_dir
) -> None:
    paths = images(2)
    result = run_cli("upload", "--data-dir", client_dir, "--server", live_server.url, *paths)
    assert result.returncode == EXIT_OK, result.stderr
    links = lines(result)
    assert len(links) == 2
    for link, path in zip(links, paths, strict=True):
        assert re.fullmatch(re.escape(live_server.url) + r"/\w{10,}\.png", link)
        assert same_image(link, path)
    stderr = result.stderr.decode()
    # No app, no display: said plainly that nothing was copied. No progress bar when piped.
    assert "printed, not copied to the clipboard" in stderr
    assert "\r" not in stderr and "%" not in stderr

    history = run_cli("history", "--data-dir", client_dir, "--json")
    assert history.returncode == EXIT_OK
    rows = [json.loads(line) for line in lines(history)]
    assert [r["url"] for r in rows] == links[::-1]  # newest first
    assert all(r["state"] == "done" and r["delete_url"] and r["id"] for r in rows)
    assert {r["name"] for r in rows} == {p.name for p in paths}
    text = run_cli("history", "--data-dir", client_dir)
    assert all(link in text.stdout.decode() for link in links)


@pytest.mark.parametrize(
    ("fmt", "pattern"),
    [
        ("markdown", r"!\[image\]\(http://\S+\.png\)"),
        ("html", r'<a href="http://\S+"><img src="http://\S+\.png" alt="image" .*></a>'),
        ("bbcode", r"\[url=http://\S+\]\[img\]http://\S+\.png\[/img\]\[/url\]"),
    ],
)
def test_link_formats(live_server, run_cli, images, client_dir, fmt, pattern) -> None:
    (path,) = images(1)
    result = run_cli(
        "upload", "--data-dir", client_dir, "--server", live_server.url, "--format", fmt, path
    )
    assert result.returncode == EXIT_OK, result.stderr
    (line,) = lines(result)
    assert re.fullmatch(pattern, line), line


def test_json_lines_hold_everything_the_server_returned(
    live_server, run_cli, images, client_dir
) -> None:
    paths = images(2)
    result = run_cli(
        "upload", "--data-dir", client_dir, "--server", live_server.url, "--format", "json",
        "--expires", "1d", *paths,
    )  # fmt: skip
    assert result.returncode == EXIT_OK, result.stderr
    rows = [json.loads(line) for line in lines(result)]
    assert [r["file"] for r in rows] == [str(p) for p in paths]
    for row in rows:
        assert row["delete_url"].endswith("/" + row["delete_token"])
        assert {"id", "url", "page_url", "thumbnail_url", "width", "height", "sha256"} <= set(row)
        assert row["expires_at"] is not None  # --expires reached the server
    store = HistoryStore(client_dir / "history.sqlite3")
    try:
        assert {i.expires for i in store.items()} == {"1d"}
    finally:
        store.close()


def test_stdin_upload(live_server, run_cli, samples, client_dir) -> None:
    data = samples.png(33, 21, "royalblue")
    result = run_cli(
        "upload", "--data-dir", client_dir, "--server", live_server.url, "-", input=data
    )
    assert result.returncode == EXIT_OK, result.stderr
    (link,) = lines(result)
    assert same_image(link, data)
    history = run_cli("history", "--data-dir", client_dir, "--json")
    (row,) = [json.loads(line) for line in lines(history)]
    assert (row["name"], row["url"]) == ("stdin.png", link)


def test_some_failed_exits_1(live_server, run_cli, images, tmp_path, client_dir) -> None:
    (good,) = images(1)
    bad = tmp_path / "notes.png"
    bad.write_text("not an image at all")
    result = run_cli("upload", "--data-dir", client_dir, "--server", live_server.url, bad, good)
    assert result.returncode == EXIT_FAILED
    (link,) = lines(result)  # the good one's link, and nothing else
    assert same_image(link, good)
    assert "notes.png" in result.stderr.decode()


def test_unreachable_server_exits_3(run_cli, images, client_dir) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    result = run_cli("upload", "--data-dir", client_dir, "--server", dead, *images(2))
    assert result.returncode == EXIT_UNREACHABLE
    assert result.stdout == b""
    assert "Cannot reach" in result.stderr.decode()


def test_no_server_and_no_running_app_exits_3(run_cli, images, client_dir) -> None:
    result = run_cli("upload", "--data-dir", client_dir, *images(1))
    assert result.returncode == EXIT_UNREACHABLE
    assert result.stdout == b""
    stderr = result.stderr.decode()
    assert "picdrop is not running" in stderr
    assert "--server" in stderr and "PICDROP_SERVER" in stderr


@pytest.mark.parametrize(
    "args",
    [
        ["upload"],
        ["upload", "{missing}"],
        ["upload", "--format", "xml", "{file}"],
        ["upload", "--expires", "2y", "{file}"],
        ["upload", "--server", "ftp://example.org", "{file}"],
        ["upload", "--bogus", "{file}"],
        ["upload", "-", "-"],
        ["delete", "NoSuchId123"],
        ["history", "--limit", "0"],
    ],
)
def test_bad_arguments_exit_2(run_cli, images, tmp_path, client_dir, args) -> None:
    (path,) = images(1)
    args = [a.format(file=path, missing=tmp_path / "missing.png") for a in args]
    result = run_cli(args[0], "--data-dir", client_dir, *args[1:], input=b"\x89PNG")
    assert result.returncode == EXIT_USAGE, result.stderr
    assert result.stdout == b""
    assert result.stderr


def test_server_resolution_order(
    live_server, run_cli, picdrop_env, images, tmp_path, client_dir
) -> None:
    (path,) = images(1)
    # The saved setting, as the app's Settings dialog writes it (native format: INI here).
    saved = QSettings(
        str(tmp_path / "config" / "picdrop" / "picdrop.conf"), QSettings.Format.IniFormat
    )
    SettingsStore(saved).save(AppConfig(server_url=live_server.url))
    del saved

    result = run_cli("upload", "--data-dir", client_dir, path)
    assert result.returncode == EXIT_OK, result.stderr
    assert lines(result)[0].startswith(live_server.url + "/")

    dead = f"http://127.0.0.1:{free_port()}"
    env = picdrop_env(PICDROP_SERVER=dead)  # the environment beats the saved setting
    result = run_cli("upload", "--data-dir", client_dir, path, env=env)
    assert result.returncode == EXIT_UNREACHABLE

    result = run_cli("upload", "--data-dir", client_dir, "--server", live_server.url, path, env=env)
    assert result.returncode == EXIT_OK  # ...and --server beats the environment


def test_progress_bar_only_on_a_terminal(live_server, picdrop_env, images, client_dir) -> None:
    paths = images(2, side=200)
    main, terminal = pty.openpty()
    try:
        child = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "desktop",
                "upload",
                "--data-dir",
                str(client_dir),
                "--server",
                live_server.url,
                "--no-copy",
                *map(str, paths),
            ],
            cwd=REPO,
            env=picdrop_env(),
            stdout=subprocess.PIPE,
            stderr=terminal,
            stdin=subprocess.DEVNULL,
        )
        os.close(terminal)
        stdout, _ = child.communicate(timeout=60)
        shown = b""
        while True:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # EIO: the terminal's other end is closed and drained
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(main)
    assert child.returncode == EXIT_OK
    assert len(stdout.decode().splitlines()) == 2  # links only, even with a bar on stderr
    text = shown.decode()
    assert "\r" in text and "100%" in text and "2/2" in text


def test_delete_uses_the_stored_token(live_server, run_cli, images, client_dir) -> None:
    result = run_cli(
        "upload", "--data-dir", client_dir, "--server", live_server.url, "--format", "json",
        *images(2),
    )  # fmt: skip
    first, second = (json.loads(line) for line in lines(result))

    deleted = run_cli("delete", "--data-dir", client_dir, first["id"])
    assert deleted.returncode == EXIT_OK, deleted.stderr
    assert requests.get(first["url"], timeout=5).status_code == 404
    assert requests.get(second["url"], timeout=5).status_code == 200
    # By link works too; deleting again is not an error.
    assert run_cli("delete", "--data-dir", client_dir, second["url"]).returncode == EXIT_OK
    assert run_cli("delete", "--data-dir", client_dir, first["id"]).returncode == EXIT_OK
    rows = [
        json.loads(line) for line in lines(run_cli("history", "--data-dir", client_dir, "--json"))
    ]
    assert {r["state"] for r in rows} == {"deleted"}


def test_help_and_version(run_cli) -> None:
    help_text = run_cli("--help").stdout.decode()
    assert "picdrop upload FILE" in help_text and "exit status" in help_text
    for code in ("0 ", "1 ", "2 ", "3 "):
        assert f"\n  {code}" in help_text
    assert run_cli("upload", "--help").stdout.decode().count("exit status") == 1
    version = run_cli("--version")
    assert version.returncode == 0 and re.fullmatch(rb"picdrop \d+\.\d+\.\d+\n", version.stdout)


def test_an_empty_history_says_so_on_stderr_only(run_cli, client_dir) -> None:
    text = run_cli("history", "--data-dir", client_dir)
    assert text.returncode == EXIT_OK
    assert text.stdout == b"" and text.stderr == b"picdrop history: no uploads yet\n"
    as_json = run_cli("history", "--data-dir", client_dir, "--json")
    assert (as_json.returncode, as_json.stdout, as_json.stderr) == (EXIT_OK, b"", b"")


@pytest.mark.parametrize(
    "command", [("history",), ("delete", "abc123"), ("upload", "--server", "http://127.0.0.1:9")]
)
def test_a_damaged_history_is_reported_and_left_alone(run_cli, client_dir, images, command):
    client_dir.mkdir(parents=True, exist_ok=True)
    damaged = client_dir / "history.sqlite3"
    damaged.write_bytes(b"not a database " * 100)
    files = images(1) if command[0] == "upload" else []
    result = run_cli(*command, "--data-dir", client_dir, *files)
    assert result.returncode == EXIT_FAILED
    assert result.stderr.decode().splitlines() == [
        f"picdrop {command[0]}: the upload history at {damaged} is damaged (file is not a "
        "database).",
        "  Start the picdrop app to keep it aside and begin a new one.",
    ]
    assert damaged.read_bytes() == b"not a database " * 100


def test_upload_needs_no_display(live_server, run_cli, picdrop_env, images, client_dir) -> None:
    # With the xcb platform and no DISPLAY, creating a QGuiApplication would abort the process.
    env = picdrop_env(QT_QPA_PLATFORM="xcb")
    result = run_cli(
        "upload", "--data-dir", client_dir, "--server", live_server.url, *images(1), env=env
    )
    assert result.returncode == EXIT_OK, result.stderr
    assert run_cli("history", "--data-dir", client_dir, env=env).returncode == EXIT_OK


# -- with the app running (here, in this process) ----------------------------------------------
@pytest.fixture
def running_app(make_service, history, qapp, run_dir, client_dir):
    """The app's side of the socket, in this process: the command finds it under the address it
    derives from --data-dir (and XDG_RUNTIME_DIR), and the clipboard it fills is this process's."""
    service = make_service("http://127.0.0.1:9")
    config = AppConfig()
    copier = LinkCopier(service, qapp.clipboard(), lambda: config, parent=service)
    server = InstanceServer(instance_address(run_dir, client_dir))
    server.listen()
    remote = RemoteRequests(server, service, copier)
    yield service
    server.close()
    delete_qobject(remote)
    delete_qobject(server)


def run_in_background(picdrop_env, qtbot, *args, input: bytes = b""):
    """Run the command while this process's event loop keeps serving the app side."""
    child = subprocess.Popen(
        [sys.executable, "-m", "desktop", *map(str, args)],
        cwd=REPO,
        env=picdrop_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    child.stdin.write(input)
    child.stdin.close()
    qtbot.waitUntil(lambda: child.poll() is not None, timeout=TIMEOUT)
    out, err = child.stdout.read(), child.stderr.read()
    child.stdout.close()
    child.stderr.close()
    return child.returncode, out.decode(), err.decode()


def test_without_a_server_the_running_app_uploads_and_copies(
    live_server, running_app, picdrop_env, images, qtbot, qapp, client_dir, samples
) -> None:
    service = running_app
    service.set_server(live_server.url)  # the app's own server (its built-in one, normally)
    paths = images(2)
    data = samples.png(12, 34, "gold")
    code, out, err = run_in_background(
        picdrop_env, qtbot, "upload", "--data-dir", client_dir, "--format", "markdown",
        *paths, "-", input=data,
    )  # fmt: skip
    assert code == EXIT_OK, err
    links = out.splitlines()
    assert len(links) == 3
    urls = [re.search(r"\((\S+)\)", line).group(1) for line in links]
    assert same_image(urls[0], paths[0]) and same_image(urls[2], data)
    # The app owns the clipboard: it holds what was printed, and the command did not complain.
    assert qapp.clipboard().text() == out.strip()
    assert "not copied" not in err
    # They went through the app's own queue and history.
    assert [j.name for j in service.jobs()] == [paths[0].name, paths[1].name, "stdin.png"]
    assert all(j.state is JobState.DONE for j in service.jobs())


def test_an_album_through_the_running_app_is_printed_and_copied_last(
    live_server, running_app, picdrop_env, images, qtbot, qapp, client_dir
) -> None:
    running_app.set_server(live_server.url)
    code, out, err = run_in_background(
        picdrop_env, qtbot, "upload", "--album", "--data-dir", client_dir, *images(2)
    )
    assert code == EXIT_OK, err
    *links, album = out.splitlines()
    assert [j.result.url for j in running_app.jobs()] == links
    assert album.startswith(f"{live_server.url}/a/")
    assert qapp.clipboard().text() == out.strip()


def test_failures_through_the_app_exit_1(
    live_server, running_app, picdrop_env, images, qtbot, tmp_path, client_dir
) -> None:
    running_app.set_server(live_server.url)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"nope")
    (good,) = images(1)
    code, out, err = run_in_background(
        picdrop_env, qtbot, "upload", "--data-dir", client_dir, "--no-copy", good, bad
    )
    assert code == EXIT_FAILED
    assert len(out.splitlines()) == 1 and "bad.png" in err


def test_a_direct_upload_copies_through_the_running_app(
    live_server, running_app, picdrop_env, images, qtbot, qapp, client_dir
) -> None:
    qapp.clipboard().clear()
    with qtbot.waitSignal(running_app.history_changed, timeout=TIMEOUT):
        code, out, err = run_in_background(
            picdrop_env, qtbot, "upload", "--data-dir", client_dir, "--server", live_server.url,
            *images(2),
        )  # fmt: skip
    assert code == EXIT_OK, err
    assert qapp.clipboard().text() == out.strip()
    assert len(out.splitlines()) == 2 and "not copied" not in err
    assert running_app.jobs() == []  # uploaded by the command itself


@pytest.mark.xvfb
def test_without_the_app_a_clipboard_tool_keeps_the_link(
    live_server, run_cli, picdrop_env, images, xvfb, client_dir
) -> None:
    require_program("xclip")
    env = picdrop_env(DISPLAY=xvfb)
    result = run_cli(
        "upload", "--data-dir", client_dir, "--server", live_server.url, *images(1), env=env
    )
    assert result.returncode == EXIT_OK, result.stderr
    assert "not copied" not in result.stderr.decode()
    # The command has exited; the forked xclip still serves the clipboard.
    pasted = subprocess.run(
        ["xclip", "-o", "-selection", "clipboard"], env=env, capture_output=True, timeout=10
    )
    assert pasted.stdout.decode() == result.stdout.decode().strip()


@pytest.mark.parametrize(
    "args",
    [
        ("history", "--json"),
        ("history",),
        ("history", "--limit", "1"),
    ],
)
def test_a_closed_output_pipe_ends_quietly(picdrop_env, client_dir, args) -> None:
    """`picdrop history --json | head -c 100`: no traceback, the SIGPIPE status."""
    store = HistoryStore(client_dir / "history.sqlite3")
    for i in range(3):
        item = HistoryItem(
            key=f"k{i}", idem_key=f"k{i}", batch="b", name=f"shot-{i}.png", size=10,
            mime="image/png", state=JobState.QUEUED, server="http://127.0.0.1:9", created_at=i,
        )  # fmt: skip
        store.add_queued(item, b"x")
    store.close()
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first byte, as `head` after 100 bytes
    try:
        result = subprocess.run(
            [sys.executable, "-m", "desktop", *args, "--data-dir", str(client_dir)],
            cwd=REPO,
            stdout=write_end,
            stderr=subprocess.PIPE,
            env=picdrop_env(),
            timeout=60,
        )
    finally:
        os.close(write_end)
    assert result.stderr == b""
    assert result.returncode == EXIT_CLOSED_PIPE
