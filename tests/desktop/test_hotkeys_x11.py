"""Global hotkeys under a real X server with a window manager: a key pressed with xdotool (XTEST,
as a keyboard would) reaches the HotkeyService as intent, and a key another X client has
grabbed first is reported where the user sees it, not dropped."""

from __future__ import annotations

import dataclasses
import os
import shlex
import subprocess
import threading
from collections.abc import Iterator

import pytest
from Xlib import XK, X, error
from Xlib.display import Display

from desktop.core.config import AppConfig, hotkey_texts
from desktop.core.hotkeys import Action, parse_hotkey
from desktop.hotkeys.service import HotkeyService
from desktop.hotkeys.x11 import X11HotkeyBackend
from tests.conftest import require_program
from tests.desktop.conftest import child_env, delete_qobject

# openbox's own key binding, as a desktop binds Alt+Print to its screenshot tool.
OPENBOX_RC = """<?xml version="1.0" encoding="UTF-8"?>
<openbox_config xmlns="http://openbox.org/3.4/rc">
  <keyboard>
    <keybind key="A-Print"><action name="Execute"><command>true</command></action></keybind>
  </keyboard>
</openbox_config>
"""


def held_by_another_client(display: Display, keysym: str, modifiers: int) -> bool:
    """Whether some other X client has grabbed the key (the server refuses a second grab)."""
    keycode = display.keysym_to_keycode(XK.string_to_keysym(keysym))
    root = display.screen().root
    refused = error.CatchError(error.BadAccess)
    root.grab_key(keycode, modifiers, True, X.GrabModeAsync, X.GrabModeAsync, onerror=refused)
    display.sync()
    if refused.get_error() is not None:
        return True
    root.ungrab_key(keycode, modifiers)
    display.sync()
    return False


@pytest.fixture
def wm_display(xvfb: str, qtbot, tmp_path) -> Iterator[str]:
    """The Xvfb display managed by openbox, once it holds its own keys."""
    (tmp_path / "rc.xml").write_text(OPENBOX_RC)
    started = tmp_path / "openbox-started"
    openbox = subprocess.Popen(
        [
            require_program("openbox"),
            "--sm-disable",
            "--config-file",
            str(tmp_path / "rc.xml"),
            "--startup",  # run once openbox has set itself up
            f"touch {shlex.quote(str(started))}",
        ],
        env=child_env(DISPLAY=xvfb),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        qtbot.waitUntil(started.exists, timeout=30_000)
        probe = Display(xvfb)
        held = held_by_another_client(probe, "Print", X.Mod1Mask)
        probe.close()
        assert held, "openbox does not hold its Alt+Print"
        yield xvfb
    finally:
        openbox.terminate()
        openbox.wait()


@pytest.fixture
def hotkeys(wm_display: str, qtbot) -> Iterator[HotkeyService]:
    backend = X11HotkeyBackend(wm_display)
    service = HotkeyService(backend)
    yield service
    service.shutdown()
    delete_qobject(service)
    delete_qobject(backend)


def press(display: str, keys: str) -> None:
    subprocess.run(["xdotool", "key", keys], env=child_env(DISPLAY=display), check=True)


@pytest.mark.xvfb
@pytest.mark.parametrize(
    ("keys", "action"),
    [
        ("ctrl+shift+4", Action.REGION),
        ("ctrl+shift+3", Action.SCREEN),
        ("ctrl+shift+5", Action.WINDOW),
        ("ctrl+alt+u", Action.CLIPBOARD),
    ],
)
def test_a_default_hotkey_pressed_anywhere_becomes_its_request(
    hotkeys: HotkeyService, wm_display: str, qtbot, keys: str, action: Action
) -> None:
    require_program("xdotool")
    seen: list[str] = []
    hotkeys.capture_requested.connect(seen.append)
    hotkeys.upload_clipboard_requested.connect(lambda: seen.append("clipboard"))
    with qtbot.waitSignal(hotkeys.backend.bound):
        hotkeys.apply(hotkey_texts(AppConfig()))
    assert hotkeys.problems == {}

    press(wm_display, "ctrl+F12")  # not a picdrop hotkey: nothing happens
    press(wm_display, keys)
    qtbot.waitUntil(lambda: seen != [])
    assert seen == [action.value]


@pytest.mark.xvfb
def test_a_hotkey_works_with_caps_lock_on(hotkeys: HotkeyService, wm_display: str, qtbot) -> None:
    require_program("xdotool")
    with qtbot.waitSignal(hotkeys.backend.bound):
        hotkeys.apply({Action.REGION: "Ctrl+Shift+4"})
    press(wm_display, "Caps_Lock")
    with qtbot.waitSignal(hotkeys.capture_requested) as request:
        press(wm_display, "ctrl+shift+4")
    assert request.args == ["region"]


def grab_key(display: Display, keysym: str, modifiers: int) -> None:
    """Grab a key on the root window, as a desktop's screenshot tool would."""
    keycode = display.keysym_to_keycode(XK.string_to_keysym(keysym))
    display.screen().root.grab_key(keycode, modifiers, True, X.GrabModeAsync, X.GrabModeAsync)
    display.sync()


@pytest.mark.xvfb
@pytest.mark.parametrize(
    ("grabbed_by", "texts", "taken", "still_works"),
    [
        ("openbox", {Action.WINDOW: "Alt+Print", Action.REGION: "Ctrl+Shift+4"}, "Alt+Print",
         ("ctrl+shift+4", "region")),
        ("another X client", hotkey_texts(AppConfig()), "Ctrl+Shift+4",
         ("ctrl+shift+3", "screen")),
    ],
)  # fmt: skip
def test_a_hotkey_another_program_holds_is_reported(
    hotkeys: HotkeyService, wm_display: str, qtbot, grabbed_by, texts, taken, still_works
) -> None:
    require_program("xdotool")
    other = Display(wm_display)
    if grabbed_by == "another X client":
        grab_key(other, "4", X.ControlMask | X.ShiftMask)
    troubles: list[tuple[str, str]] = []
    hotkeys.trouble.connect(lambda title, text: troubles.append((title, text)))
    try:
        with qtbot.waitSignal(hotkeys.backend.bound):
            hotkeys.apply(texts)
        qtbot.waitUntil(lambda: troubles != [])
        action = next(a for a, text in texts.items() if text == taken)
        message = f"{taken} is already used by another program: choose another key in Settings."
        assert hotkeys.problems == {action: message}
        assert troubles == [(f"Hotkey for “{action.label}” not set", message)]

        # The other hotkeys were bound all the same.
        keys, request = still_works
        with qtbot.waitSignal(hotkeys.capture_requested) as requested:
            press(wm_display, keys)
        assert requested.args == [request]
    finally:
        other.close()


@pytest.mark.xvfb
def test_the_app_reports_a_taken_hotkey_and_captures_with_the_others(
    wm_display: str, qapp, qtbot, tmp_path, live_server
) -> None:
    """The whole app: the X11 backend finds Ctrl+Shift+4 held by another client; the tray says
    so, and Settings shows the reason next to the field until the user changes the key. The
    keys it did get work: Ctrl+Shift+3 captures the screen and uploads it."""
    from PySide6.QtCore import QSettings, QTimer

    from desktop.app import PicdropApp
    from desktop.capture_flow import Outcome
    from desktop.core.config import AfterCapture

    other = Display(wm_display)
    grab_key(other, "4", X.ControlMask | X.ShiftMask)
    backend = X11HotkeyBackend(wm_display)
    app = PicdropApp(
        qapp,
        data_dir=tmp_path / "app-data",
        qsettings=QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat),
        environ={"PICDROP_SERVER": live_server.url},
        tray_available=True,
        hotkey_backend=backend,
    )
    notes: list[tuple[str, str]] = []
    app.tray.notified.connect(lambda title, text: notes.append((title, text)))
    message = "Ctrl+Shift+4 is already used by another program: choose another key in Settings."
    seen: dict[str, object] = {}

    def look_at_settings() -> None:
        hotkeys = app.window.settings_dialog.hotkeys
        seen["shown"] = hotkeys.messages[Action.REGION].isVisible()
        seen["text"] = hotkeys.messages[Action.REGION].text()
        hotkeys.fields[Action.REGION].setText("Ctrl+Alt+R")  # the user picks another key
        seen["after edit"] = hotkeys.messages[Action.REGION].isVisible()
        app.window.settings_dialog.reject()

    try:
        app.start()
        qtbot.waitUntil(lambda: notes != [])
        assert notes == [("Hotkey for “Capture a region” not set", message)]
        QTimer.singleShot(0, look_at_settings)
        app.window.open_settings()
        assert seen == {"shown": True, "text": message, "after edit": False}

        # A hotkey that was bound starts a capture; with "upload at once" its picture is uploaded.
        app.apply_config(dataclasses.replace(app.config, after_capture=AfterCapture.UPLOAD.value))
        done: list[str] = []
        app.uploads.job_done.connect(done.append)
        with qtbot.waitSignal(app.capture_flow.outcome, timeout=20_000) as outcome:
            press(wm_display, "ctrl+shift+3")
        assert outcome.args[0] == Outcome.UPLOADING
        qtbot.waitUntil(lambda: done == [outcome.args[1]], timeout=20_000)
    finally:
        other.close()
        app.window.close_to_tray = False
        app.window.close()
        app.shutdown()
        delete_qobject(app.window)
        delete_qobject(app)


@pytest.mark.xvfb
def test_the_region_hotkey_opens_the_capture_overlay(
    wm_display: str, qapp, qtbot, tmp_path, live_server
) -> None:
    """The default region key, pressed anywhere on the X display, shows the overlay; Esc cancels
    it (the overlay's selection and upload on a real X server: test_capture_xvfb.py)."""
    from PySide6.QtCore import QSettings, Qt

    from desktop.app import PicdropApp
    from desktop.capture_flow import Outcome

    backend = X11HotkeyBackend(wm_display)
    app = PicdropApp(
        qapp,
        data_dir=tmp_path / "app-data",
        qsettings=QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat),
        environ={"PICDROP_SERVER": live_server.url},
        tray_available=True,
        hotkey_backend=backend,
    )
    try:
        with qtbot.waitSignal(backend.bound, timeout=20_000):
            app.start()
        assert app.hotkeys.problems == {}
        with qtbot.waitSignal(app.capture_flow.capture.overlay_shown, timeout=20_000) as shown:
            press(wm_display, "ctrl+shift+4")
        overlay = shown.args[0]
        qtbot.waitUntil(overlay.isVisible)
        with qtbot.waitSignal(app.capture_flow.outcome, timeout=20_000) as outcome:
            qtbot.keyClick(overlay, Qt.Key.Key_Escape)  # this app draws offscreen, not on X
        assert outcome.args[0] == Outcome.CANCELLED
    finally:
        app.window.close_to_tray = False
        app.window.close()
        app.shutdown()
        delete_qobject(app.window)
        delete_qobject(app)


@pytest.mark.xvfb
def test_the_x_server_going_away_is_reported_not_a_crash(qtbot) -> None:
    """The X server dies under the hotkeys' thread (a session ends, Xvfb is killed): the
    backend says it lost the server; the thread ends without an unhandled exception (strict
    pytest fails a test on one)."""
    read_fd, write_fd = os.pipe()
    server = subprocess.Popen(
        [require_program("Xvfb"), "-displayfd", str(write_fd), "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        display = f":{pipe.readline().strip()}"
    backend = X11HotkeyBackend(display)
    try:
        with qtbot.waitSignal(backend.bound):
            backend.bind({Action.REGION: parse_hotkey("Ctrl+Shift+4")})
        with qtbot.waitSignal(backend.unavailable) as lost:
            server.kill()
        assert lost.args[0].startswith("picdrop lost the X server")
        # Closed after its thread has ended on its own (the order that once broke the pipe).
        qtbot.waitUntil(lambda: all(t.name != "x11-hotkeys" for t in threading.enumerate()))
        backend.close()
    finally:
        server.kill()
        server.wait()
        delete_qobject(backend)
