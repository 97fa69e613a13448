"""Settings' global hotkeys section: the keys are edited as text, checked as typed, saved and
loaded with the other settings; what the running app found is shown next to each key."""

from __future__ import annotations

import subprocess
import sys

import pytest
from PIL import Image
from PySide6.QtCore import QSettings

from desktop.core.config import AppConfig, hotkey_texts
from desktop.core.hotkeys import DEFAULT_HOTKEYS, Action
from desktop.settings import SettingsStore
from desktop.ui.settings_dialog import SettingsDialog
from tests.conftest import require_program
from tests.desktop.conftest import REPO, child_env


@pytest.fixture
def dialog(qtbot):
    made = SettingsDialog(AppConfig())
    qtbot.addWidget(made)
    made.show()
    return made


def test_the_defaults_are_shown_and_edits_are_saved_and_loaded(dialog, tmp_path) -> None:
    hotkeys = dialog.hotkeys
    assert {a: f.text() for a, f in hotkeys.fields.items()} == DEFAULT_HOTKEYS
    hotkeys.fields[Action.REGION].setText("Alt+F9")
    hotkeys.fields[Action.CLIPBOARD].setText("")  # no hotkey
    config = dialog.config()

    store = SettingsStore(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    store.save(config)
    assert hotkey_texts(store.load()) == {
        **DEFAULT_HOTKEYS,
        Action.REGION: "Alt+F9",
        Action.CLIPBOARD: "",
    }


@pytest.mark.parametrize(
    ("action", "text", "says"),
    [
        (Action.REGION, "Ctrl+Nope", "“Nope” is not a key picdrop can bind."),
        (Action.WINDOW, "Ctrl+Shift+3", "Ctrl+Shift+3 is already used for “Capture the full"),
        (Action.SCREEN, "Q", "Q needs Ctrl, Alt or Super with it"),
    ],
)
def test_a_key_that_cannot_be_bound_is_said_as_it_is_typed(dialog, action, text, says) -> None:
    message = dialog.hotkeys.messages[action]
    assert not message.isVisible()
    dialog.hotkeys.fields[action].setText(text)
    assert message.isVisible()
    assert message.text().startswith(says)
    dialog.hotkeys.fields[action].setText("Ctrl+Alt+F7")
    assert not message.isVisible()


def test_what_the_app_found_is_shown_until_the_key_is_changed(dialog) -> None:
    taken = "Ctrl+Shift+4 is already used by another program: choose another key in Settings."
    dialog.hotkeys.show_problems({Action.REGION: taken}, "No portal \x1b[2J here.")
    assert dialog.hotkeys.messages[Action.REGION].isVisible()
    assert dialog.hotkeys.messages[Action.REGION].text() == taken
    assert dialog.hotkeys.notice.isVisible()
    assert dialog.hotkeys.notice.text() == "No portal \\u001b[2J here."  # escaped, not obeyed

    dialog.hotkeys.fields[Action.REGION].setText("Ctrl+Alt+R")
    assert not dialog.hotkeys.messages[Action.REGION].isVisible()
    dialog.hotkeys.fields[Action.REGION].setText("ctrl+shift+4")  # the same key again
    assert dialog.hotkeys.messages[Action.REGION].isVisible()


@pytest.mark.xvfb
def test_the_settings_screenshot_tool_draws_the_hotkeys_section(tmp_path) -> None:
    """docs/screenshots/settings-hotkeys.png is made with desktop.tools.settings_screenshot."""
    require_program("Xvfb")
    env = {k: v for k, v in child_env().items() if k not in ("DISPLAY", "QT_QPA_PLATFORM")}
    done = subprocess.run(
        [sys.executable, "-m", "desktop.tools.settings_screenshot", "--out", str(tmp_path)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    with Image.open(tmp_path / "settings-hotkeys.png") as shot:
        assert shot.size[0] >= 400 and shot.size[1] >= 500
        colours = shot.convert("RGB").getcolors(1_000_000)
    assert len(colours) > 100  # drawn text and widgets, not a blank window
