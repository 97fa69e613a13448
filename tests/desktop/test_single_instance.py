"""One app per user and data directory, as separate processes: a second launch hands its files
to the running app and exits at once; a crashed app's socket does not stop the next launch; the
`picdrop` command uploads through the app's built-in server, whose links outlive the command;
the socket and its lock live in a private directory, and nothing is sent to a socket another
user listens on."""

from __future__ import annotations

import contextlib
import getpass
import hashlib
import os
import signal
import socket
import stat
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from PySide6.QtCore import QLockFile

from desktop.commands.status import EXIT_UNREACHABLE
from desktop.core import ipc
from desktop.instance_client import ping
from tests.conftest import require
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


# -- nobody else's socket, nobody else's lock -----------------------------------------------------
NOBODY = 65534


def old_address(run_dir: Path, app_dir: Path) -> Path:
    """Where the app used to listen: a predictable name in the shared temp directory ($TMPDIR),
    which any local user could take first."""
    digest = hashlib.sha256(str(app_dir.resolve()).encode()).hexdigest()[:12]
    return run_dir / f"picdrop-{getpass.getuser()}-{digest}"


class Squatter:
    """A socket someone else listens on: counts the connections it gets and the bytes sent to
    it. With `uid`, the listening is done by a forked child running as that user (the
    credentials a client sees are the listener's at listen())."""

    def __init__(self, path: Path, uid: int | None = None) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        self.reports, self._report_end = os.pipe()
        self.child = 0
        self._thread: threading.Thread | None = None
        if uid is None:
            self.sock.listen()
            self._thread = threading.Thread(target=self._serve, args=(self._report_end,))
            self._thread.start()
            return
        self.child = os.fork()
        if self.child == 0:  # pragma: no cover - the child
            try:
                os.setuid(uid)
                self.sock.listen()
                os.write(self._report_end, b"listening\n")
                self._serve(self._report_end)
            finally:
                os._exit(0)
        self.sock.close()
        os.close(self._report_end)
        with os.fdopen(os.dup(self.reports), "rb", buffering=0) as pipe:
            assert pipe.readline() == b"listening\n"

    def _serve(self, report_end: int) -> None:
        """One line per connection: how many bytes it sent before it hung up (each connection
        is cut after its first line, so an old client waiting for an answer does not hang)."""
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                received = b""
                while b"\n" not in received:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    received += chunk
            os.write(report_end, f"{len(received)}\n".encode())

    def received(self) -> list[int]:
        """Bytes received per connection so far."""
        counts = b""
        os.set_blocking(self.reports, False)
        with contextlib.suppress(BlockingIOError):
            while chunk := os.read(self.reports, 4096):
                counts += chunk
        return [int(n) for n in counts.split()]

    def stop(self) -> None:
        if self.child:
            os.kill(self.child, signal.SIGKILL)
            os.waitpid(self.child, 0)
        else:
            assert self._thread is not None
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept() up
            self._thread.join()
            os.close(self._report_end)
        self.sock.close()
        os.close(self.reports)


@pytest.fixture
def squatter() -> Iterator[Callable[..., Squatter]]:
    made: list[Squatter] = []

    def plant(path: Path, uid: int | None = None) -> Squatter:
        made.append(Squatter(path, uid))
        return made[-1]

    yield plant
    for squat in made:
        squat.stop()


def launch_or_upload(how: str, app_process, run_cli, app_dir: Path, images, samples):
    """A second launch with a file, or `picdrop upload -`: the two ways files go to the app."""
    if how == "upload -":
        return run_cli("upload", "--data-dir", app_dir, "-", input=samples.png(), timeout=30)
    (path,) = images(1)
    return app_process("--data-dir", app_dir, "--server", "http://127.0.0.1:9", path)


@pytest.mark.parametrize("how", ["upload -", "second launch"])
def test_a_socket_at_the_old_shared_path_receives_nothing(
    squatter, app_process, run_cli, run_dir, app_dir, images, samples, qtbot, how
) -> None:
    squat = squatter(old_address(run_dir, app_dir))
    outcome = launch_or_upload(how, app_process, run_cli, app_dir, images, samples)
    if how == "upload -":
        assert outcome.returncode == EXIT_UNREACHABLE
        assert "picdrop is not running" in outcome.stderr.decode()
    else:  # the launch became the app, at its own address
        wait_listening(qtbot, instance_address(run_dir, app_dir), outcome)
    assert squat.received() == []  # not even a connection


@pytest.mark.parametrize("how", ["upload -", "second launch"])
def test_another_users_socket_at_the_app_address_receives_nothing(
    squatter, app_process, run_cli, run_dir, app_dir, images, samples, qtbot, how
) -> None:
    if os.getuid() != 0:
        require(False, "root, to listen as another user (nobody)")
    address = instance_address(run_dir, app_dir)
    squat = squatter(Path(address), uid=NOBODY)
    outcome = launch_or_upload(how, app_process, run_cli, app_dir, images, samples)
    if how == "upload -":
        assert outcome.returncode == EXIT_UNREACHABLE
        stderr = outcome.stderr.decode()
        assert f"another user (uid {NOBODY})" in stderr and "nothing was sent" in stderr
    else:  # not our app: the launch takes the address over and becomes the app
        hello = wait_listening(qtbot, address, outcome)
        assert hello["pid"] == outcome.pid
    assert set(squat.received()) <= {0}  # connected, perhaps, but sent nothing


def test_a_lock_at_the_old_shared_path_does_not_stop_the_app(
    app_process, run_dir, app_dir, qtbot
) -> None:
    # Held by a live process (this one), so Qt cannot take it as stale.
    lock = QLockFile(f"{old_address(run_dir, app_dir)}.lock")
    assert lock.tryLock(0)
    try:
        app = app_process("--data-dir", app_dir, "--server", "http://127.0.0.1:9")
        hello = wait_listening(qtbot, instance_address(run_dir, app_dir), app)
        assert hello["pid"] == app.pid
    finally:
        lock.unlock()


@pytest.mark.parametrize("runtime", ["private", "shared", "unset"])
def test_the_socket_directory_is_private(tmp_path, monkeypatch, runtime) -> None:
    """$XDG_RUNTIME_DIR/picdrop when $XDG_RUNTIME_DIR is private, else a directory in the user's
    cache; either way made 0700 and owned by this user."""
    xdg = tmp_path / "xdg-runtime"
    xdg.mkdir(mode=0o700 if runtime == "private" else 0o777)
    xdg.chmod(0o700 if runtime == "private" else 0o777)  # past the umask
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    if runtime == "unset":
        monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    else:
        monkeypatch.setenv("XDG_RUNTIME_DIR", str(xdg))
    address = Path(ipc.instance_address(tmp_path / "data"))
    expected = xdg / "picdrop" if runtime == "private" else tmp_path / "cache" / "picdrop" / "run"
    assert address.parent == expected
    info = address.parent.lstat()
    assert stat.S_IMODE(info.st_mode) == 0o700 and info.st_uid == os.getuid()


def test_a_deep_home_still_gets_a_socket_that_fits(tmp_path, monkeypatch) -> None:
    """A socket path longer than sun_path cannot be listened on (the frozen app failed so under
    a deep home): then the socket goes into a private picdrop-UID directory in the temp dir."""
    deep = tmp_path.joinpath(*["a-rather-long-folder-name"] * 4)
    monkeypatch.setenv("XDG_CACHE_HOME", str(deep / "cache"))
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    address = ipc.instance_address(tmp_path / "data")
    assert len(os.fsencode(address)) <= ipc.SOCKET_PATH_MAX
    assert Path(address).parent.name == f"picdrop-{os.getuid()}"
    assert ipc.is_private_dir(Path(address).parent)
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(address)  # the proof that it fits
    os.unlink(address)


@pytest.mark.parametrize("problem", ["open to others", "a symlink", "owned by another user"])
def test_a_socket_directory_that_is_not_private_is_refused(tmp_path, monkeypatch, problem) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    run = tmp_path / "cache" / "picdrop" / "run"
    run.parent.mkdir(parents=True)
    if problem == "a symlink":
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir(mode=0o700)
        run.symlink_to(elsewhere)
    else:
        run.mkdir(mode=0o700)
        if problem == "open to others":
            run.chmod(0o777)
        else:
            if os.getuid() != 0:
                require(False, "root, to give a directory to another user")
            os.chown(run, NOBODY, NOBODY)
    with pytest.raises(ipc.UnsafeRuntimeDir, match="not private"):
        ipc.instance_address(tmp_path / "data")
