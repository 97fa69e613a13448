"""The tray under a real X server with a real tray host (trayer): the screenshot script finds
the tray, puts the icon on the panel, opens its menu with a right-click and saves the picture
docs/screenshots/tray-menu.png is made with."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import require_program
from tests.desktop.conftest import REPO


def near(color: tuple[int, int, int], target: tuple[int, int, int], slack: int = 40) -> bool:
    return all(abs(a - b) <= slack for a, b in zip(color, target, strict=True))


@pytest.mark.xvfb
def test_tray_icon_and_open_menu_screenshot(tmp_path: Path) -> None:
    for program in ("Xvfb", "trayer", "xdotool"):
        require_program(program)
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "QT_QPA_PLATFORM")}
    result = subprocess.run(
        [sys.executable, "-m", "desktop.tools.tray_screenshot", "--out", str(tmp_path)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    with Image.open(tmp_path / "tray-menu.png") as shot:
        shot = shot.convert("RGB")
        width, height = shot.size
        assert width >= 300 and height >= 250  # panel, icon and a whole menu
        # The icon sits on the panel at the top right, with its progress ring (#5b8cff).
        panel = shot.crop((width - 60, 0, width, 30))
        assert sum(near(c, (0x5B, 0x8C, 0xFF)) for c in panel.get_flattened_data()) >= 10
        # The menu below it: light, with text and thumbnails (many colours).
        menu = shot.crop((width - 150, 40, width - 10, height - 50))
        assert (
            sum(sum(c) / 3 > 200 for c in menu.get_flattened_data()) > menu.width * menu.height // 2
        )
        assert len(shot.getcolors(1_000_000)) > 300
