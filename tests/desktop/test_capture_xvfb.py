"""The tray's "Capture screen…" under a real X server: a known window is on screen, the user
drags over it on the frozen overlay (xdotool, real pointer events), and the uploaded image has
exactly the pixels that were on screen."""

from __future__ import annotations

import io
import json
import selectors
import subprocess
import sys
import time

import pytest
import requests
from PIL import Image, ImageChops

from tests.conftest import require_program
from tests.desktop.conftest import HERE, REPO, child_env

LEFT, TOP, WIDTH, HEIGHT = 120, 90, 240, 160


def read_line(process: subprocess.Popen, timeout: float) -> str:
    """The child's next stdout line, waiting at most `timeout` seconds for it."""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if selector.select(timeout=max(0.0, deadline - time.monotonic())):
                return process.stdout.readline().decode().strip()
    raise AssertionError(f"no output from the capture app within {timeout} s")


def screen(display: str) -> Image.Image:
    grab = subprocess.run(
        ["import", "-window", "root", "png:-"],
        env={**child_env(), "DISPLAY": display},
        capture_output=True,
        check=True,
        timeout=30,
    )
    return Image.open(io.BytesIO(grab.stdout)).convert("RGB")


def same(a: Image.Image, b: Image.Image) -> bool:
    return a.size == b.size and ImageChops.difference(a, b).getbbox() is None


@pytest.mark.xvfb
def test_region_capture_uploads_the_pixels_on_screen(live_server, xvfb, tmp_path) -> None:
    for program in ("display", "import", "xdotool"):
        require_program(program)
    env = child_env(DISPLAY=xvfb, QT_QPA_PLATFORM="xcb")
    # A busy pattern (each row shifted against the last): a selection off by one pixel shows.
    known = Image.frombytes("RGB", (WIDTH, HEIGHT), bytes(range(256)) * (WIDTH * HEIGHT * 3 // 256))
    known.save(tmp_path / "known.png")

    # A window of another program, showing the known picture at a known place.
    viewer = subprocess.Popen(
        [
            "display",
            "-borderwidth",
            "0",
            "-geometry",
            f"+{LEFT}+{TOP}",
            "-title",
            "known-window",
            str(tmp_path / "known.png"),
        ],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    capture_app = None
    try:
        subprocess.run(
            ["xdotool", "search", "--sync", "--onlyvisible", "--name", "known-window"],
            env=env, capture_output=True, check=True, timeout=30,
        )  # fmt: skip
        on_screen = screen(xvfb).crop((LEFT, TOP, LEFT + WIDTH, TOP + HEIGHT))
        assert same(on_screen, known), "the known window is not where it should be"

        capture_app = subprocess.Popen(
            [
                sys.executable,
                str(HERE / "tray_capture_app.py"),
                live_server.url,
                str(tmp_path / "client"),
            ],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        line = read_line(capture_app, 60)
        if not line.startswith("overlay 0 0 1024 768"):  # the overlay covers the screen
            capture_app.kill()
            pytest.fail(f"{line}\n{capture_app.stderr.read().decode()[-3000:]}")
        # Drag from the window's top-left corner to just past its bottom-right one.
        subprocess.run(
            ["xdotool", "mousemove", str(LEFT), str(TOP), "mousedown", "1",
             "mousemove", str(LEFT + 100), str(TOP + 60),
             "mousemove", str(LEFT + WIDTH), str(TOP + HEIGHT), "mouseup", "1"],
            env=env, check=True, timeout=30,
        )  # fmt: skip
        result = json.loads(read_line(capture_app, 60))
        assert capture_app.wait(timeout=30) == 0
    finally:
        viewer.kill()
        viewer.wait()
        if capture_app is not None:
            if capture_app.poll() is None:
                capture_app.kill()
            capture_app.wait()
            capture_app.stdout.close()
            capture_app.stderr.close()

    served = requests.get(result["url"], timeout=5)
    assert served.status_code == 200
    uploaded = Image.open(io.BytesIO(served.content)).convert("RGB")
    assert uploaded.size == (WIDTH, HEIGHT)
    assert same(uploaded, on_screen)
    assert same(uploaded, known)
    assert result["name"].startswith("screenshot-")
