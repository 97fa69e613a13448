"""A ShareX custom uploader dragged for real onto the running app, under an X server: another
program's window starts a drag of the `.sxcu` file (XDND between two processes) offering Move,
xdotool moves the real pointer onto the app's window (its list, not the drop zone: the whole
window takes drops) and lets go, and the app imports the uploader, taking it as a copy."""

from __future__ import annotations

import json
import selectors
import subprocess
import sys
import time
from pathlib import Path

import pytest

from desktop.core.destinations import DestinationStore
from desktop.core.paths import destinations_dir
from tests.conftest import require_program
from tests.desktop.conftest import HERE, REPO

SOURCE_X, SOURCE_Y = 880, 660  # below and right of the app's window, which opens at 0,0
# Below the drop zone, on the (empty) upload list.
LIST_DEPTH = 420


def read_line(process: subprocess.Popen, timeout: float) -> str:
    """The child's next stdout line, waiting at most `timeout` seconds for it."""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if selector.select(timeout=max(0.0, deadline - time.monotonic())):
                return process.stdout.readline().decode().strip()
    raise AssertionError(f"no output from the drag source within {timeout} s")


def window_geometry(name: str, env: dict[str, str]) -> dict[str, int]:
    """X, Y, WIDTH, HEIGHT of the visible window titled exactly `name`, once it is mapped."""
    found = subprocess.run(
        ["xdotool", "search", "--sync", "--onlyvisible", "--name", f"^{name}$"],
        env=env, capture_output=True, check=True, timeout=30, text=True,
    )  # fmt: skip
    shell = subprocess.run(
        ["xdotool", "getwindowgeometry", "--shell", found.stdout.split()[0]],
        env=env, capture_output=True, check=True, timeout=10, text=True,
    )  # fmt: skip
    pairs = (line.split("=") for line in shell.stdout.split())
    return {key: int(value) for key, value in pairs if key != "SCREEN"}


def drag(start: tuple[int, int], end: tuple[int, int], env: dict[str, str]) -> None:
    """Press on `start`, move in steps onto `end`, release: paced, as XDND is a conversation
    between the two programs (enter, position, status) that must happen before the drop."""
    steps = []
    for i in range(1, 6):
        x = start[0] + (end[0] - start[0]) * i // 5
        y = start[1] + (end[1] - start[1]) * i // 5
        steps += ["mousemove", str(x), str(y), "sleep", "0.1"]
    subprocess.run(
        ["xdotool", "mousemove", *map(str, start), "mousedown", "1", "sleep", "0.3",
         *steps, "sleep", "0.3", "mouseup", "1"],
        env=env, check=True, timeout=30,
    )  # fmt: skip


def imported(store: DestinationStore, timeout: float) -> dict[str, str]:
    """The app's imported uploaders, once there are some (or {} after `timeout` seconds)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not store.names():
        time.sleep(0.05)
    return store.describe()


@pytest.mark.xvfb
def test_a_sxcu_dragged_onto_the_window_is_imported(
    xvfb, app_process, picdrop_env, tmp_path: Path
) -> None:
    require_program("xdotool")
    env = picdrop_env(DISPLAY=xvfb, QT_QPA_PLATFORM="xcb")
    uploader = tmp_path / "dropped.sxcu"
    uploader.write_text(
        json.dumps(
            {
                "Version": "17.0.0",
                "Name": "Dropped",
                "DestinationType": "ImageUploader",
                "RequestMethod": "POST",
                "RequestURL": "http://127.0.0.1:9/upload",  # never contacted by an import
                "Body": "MultipartFormData",
                "FileFormName": "file",
                "URL": "{json:url}",
            }
        )
    )
    data_dir = tmp_path / "app-data"
    store = DestinationStore(destinations_dir(data_dir))
    app = app_process("--data-dir", data_dir, "--server", "http://127.0.0.1:9", env=env)
    source = subprocess.Popen(
        [sys.executable, str(HERE / "drag_source_app.py"), str(uploader), str(SOURCE_X),
         str(SOURCE_Y)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        ready = read_line(source, 30).split()
        assert ready[:1] == ["ready"], ready
        x, y, width, height = map(int, ready[1:])
        start = (x + width // 2, y + height // 2)
        window = window_geometry("picdrop", env)
        target = (window["X"] + window["WIDTH"] // 2, window["Y"] + LIST_DEPTH)
        assert store.names() == []

        # Twice at most: the first gesture can race the X server and the two programs starting.
        for _attempt in range(2):
            drag(start, target, env)
            ended = read_line(source, 10)
            if imported(store, timeout=3):
                break
        assert ended == "drag ended copy"  # never Move: the source keeps its file
        assert app.poll() is None, app.log_path.read_text()
        assert imported(store, timeout=0) == {
            "Dropped": "POST http://127.0.0.1:9/upload (MultipartFormData)"
        }
    finally:
        source.kill()
        source.wait()
        source.stdout.close()
