"""The real app on a scaled screen, under an X server: with QT_SCALE_FACTOR=2 a 1600x1000 screen
is 800x500 logical pixels, smaller than the window's default size. The window and the Settings
dialog must open inside the screen."""

from __future__ import annotations

import contextlib
import subprocess

import pytest

from desktop.tools import gui_probe
from tests.conftest import require_program
from tests.desktop.test_real_drag_xvfb import window_geometry

SCREEN = (1600, 1000)


def geometry_of(pattern: str, env: dict[str, str]) -> dict[str, int]:
    """X, Y, WIDTH, HEIGHT of the visible window whose title matches `pattern`, once mapped."""
    found = subprocess.run(
        ["xdotool", "search", "--sync", "--onlyvisible", "--name", pattern],
        env=env, capture_output=True, check=True, timeout=5, text=True,
    )  # fmt: skip
    shell = subprocess.run(
        ["xdotool", "getwindowgeometry", "--shell", found.stdout.split()[0]],
        env=env, capture_output=True, check=True, timeout=10, text=True,
    )  # fmt: skip
    pairs = (line.split("=") for line in shell.stdout.split())
    return {key: int(value) for key, value in pairs if key != "SCREEN"}


def inside(geometry: dict[str, int]) -> bool:
    x, y, width, height = (geometry[k] for k in ("X", "Y", "WIDTH", "HEIGHT"))
    return x >= 0 and y >= 0 and x + width <= SCREEN[0] and y + height <= SCREEN[1]


@pytest.mark.xvfb
def test_window_and_settings_fit_a_scaled_screen(app_process, picdrop_env, tmp_path) -> None:
    require_program("Xvfb")
    require_program("xdotool")
    with gui_probe.xvfb(f"{SCREEN[0]}x{SCREEN[1]}x24") as display:
        env = picdrop_env(DISPLAY=display, QT_QPA_PLATFORM="xcb", QT_SCALE_FACTOR="2")
        app = app_process("--data-dir", tmp_path / "data", "--server", "http://127.0.0.1:9",
                          env=env)  # fmt: skip
        window = window_geometry("picdrop", env)
        assert inside(window), window
        # The Settings button, at the header's right end (logical 34 px in, 30 px down). A
        # click can come before the new window takes input: clicked again until it opens.
        button = (window["X"] + window["WIDTH"] - 2 * 34, window["Y"] + 2 * 30)
        for _attempt in range(5):
            subprocess.run(
                ["xdotool", "mousemove", *map(str, button), "click", "1"],
                env=env, check=True, timeout=30,
            )  # fmt: skip
            with contextlib.suppress(subprocess.TimeoutExpired):
                settings = geometry_of("^Settings", env)  # "Settings — picdrop"
                break
        else:
            pytest.fail("the Settings dialog did not open")
        assert inside(settings), settings
        assert app.poll() is None, app.log_path.read_text()
