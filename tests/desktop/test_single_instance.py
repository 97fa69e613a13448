"""One app per user and data directory, as separate processes: a second launch hands its files
to the running app and exits at once; a crashed app's socket does not stop the next launch; the
`picdrop` command uploads through the app's built-in server, whose links outlive the command."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
import requests

from desktop.instance_client import ping
from tests.desktop.conftest import history_column, instance_address

TIMEOUT = 60_000


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    return tmp_path / "app-data"


def wait_listening(qtbot, address: str, child) -> dict:
    def up() -> dict | None:
        assert child.poll() is None, child.log_path.read_text()[-3000:]
        return ping(address)

    qtbot.waitUntil(lambda: up() is not None, timeout=TIMEOUT)
    return ping(address)


def test_second_launch_hands_its_files_over_and_exits(
    live_server, app_process, run_cli, run_dir, app_dir, images, qtbot, catalog
) -> None:
    first = app_process("--data-dir", app_dir, "--server", live_server.url)
    address = instance_address(run_dir, app_dir)
    hello = wait_listening(qtbot, address, first)
    assert hello["pid"] == first.pid

    paths = images(2)
    started = time.monotonic()
    second = run_cli("--data-dir", app_dir, *paths, timeout=30)
    assert second.returncode == 0, second.stderr
    assert time.monotonic() - started < 10

    # The first instance uploads both; there is still only one app.
    qtbot.waitUntil(
        lambda: history_column(app_dir, "name", "done") == sorted(p.name for p in paths),
        timeout=TIMEOUT,
    )
    assert catalog.count(live_server.settings.data_dir) == 2
    assert ping(address)["pid"] == first.pid
    assert first.poll() is None


def test_a_stale_socket_from_a_crash_does_not_stop_the_next_launch(
    live_server, app_process, run_cli, run_dir, app_dir, images, qtbot
) -> None:
    crashed = app_process("--data-dir", app_dir, "--server", live_server.url)
    address = instance_address(run_dir, app_dir)
    wait_listening(qtbot, address, crashed)
    crashed.send_signal(signal.SIGKILL)
    crashed.wait()
    assert Path(address).exists(), "SIGKILL should leave the socket file behind"
    assert ping(address) is None  # nobody answers on it

    (path,) = images(1)
    second = app_process("--data-dir", app_dir, "--server", live_server.url, path)
    hello = wait_listening(qtbot, address, second)
    assert hello["pid"] == second.pid
    qtbot.waitUntil(lambda: history_column(app_dir, "name", "done") == [path.name], timeout=TIMEOUT)
    # And it is a working instance: a further launch hands over to it.
    (more,) = images(1, folder="more")
    assert run_cli("--data-dir", app_dir, more, timeout=30).returncode == 0
    qtbot.waitUntil(lambda: len(history_column(app_dir, "name", "done")) == 2, timeout=TIMEOUT)


def test_a_clean_quit_removes_the_socket(app_process, run_dir, app_dir, qtbot) -> None:
    app = app_process("--data-dir", app_dir, "--server", "http://127.0.0.1:9")
    address = instance_address(run_dir, app_dir)
    wait_listening(qtbot, address, app)
    app.send_signal(signal.SIGTERM)
    qtbot.waitUntil(lambda: app.poll() is not None, timeout=TIMEOUT)
    assert app.returncode == 0
    assert not Path(address).exists()


def test_upload_command_through_the_app_and_its_built_in_server(
    app_process, run_cli, run_dir, app_dir, images, qtbot
) -> None:
    app = app_process("--data-dir", app_dir)  # no server configured: the built-in one runs
    wait_listening(qtbot, instance_address(run_dir, app_dir), app)
    paths = images(2)
    result = run_cli("upload", "--data-dir", app_dir, *paths, timeout=60)
    assert result.returncode == 0, result.stderr
    links = result.stdout.decode().splitlines()
    assert len(links) == 2 and all(link.startswith("http://127.0.0.1:") for link in links)
    # The command has exited; the app's server still serves the links.
    for link in links:
        served = requests.get(link, timeout=5)
        assert served.status_code == 200 and served.headers["Content-Type"] == "image/png"
    assert history_column(app_dir, "name", "done") == sorted(p.name for p in paths)
    assert "not copied" not in result.stderr.decode()
