"""The Wayland paths, against a private session bus (dbus-daemon, started here) with a stand-in
portal that follows the xdg-desktop-portal specification (tests/desktop/fake_portal.py): the
screen read through the Screenshot interface, global hotkeys through GlobalShortcuts; and what
the user is told when the portal is missing or the request is cancelled."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from jeepney import DBusAddress, new_method_call
from jeepney.io.blocking import open_dbus_connection
from PIL import Image
from PySide6.QtGui import QImage

from desktop.core.config import AppConfig, hotkey_texts
from desktop.core.hotkeys import Action
from desktop.core.portal import BUS_NAME, OBJECT_PATH
from desktop.hotkeys.portal import NO_SHORTCUTS_PORTAL, PortalHotkeyBackend
from desktop.hotkeys.service import HotkeyService
from desktop.screen_grab import NO_SCREENSHOT_PORTAL, PortalScreenGrabber
from tests.conftest import require_program
from tests.desktop.conftest import HERE, REPO, child_env, delete_qobject

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir={dir}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


@pytest.fixture
def session_bus(run_dir: Path, monkeypatch) -> Iterator[str]:
    """A private session bus with no services to activate (a desktop's real portal, if this
    machine has one, stays out of it); DBUS_SESSION_BUS_ADDRESS points at it."""
    config = run_dir / "bus.conf"
    config.write_text(BUS_CONFIG.format(dir=run_dir))
    daemon = subprocess.Popen(
        [require_program("dbus-daemon"), f"--config-file={config}", "--nofork",
         "--print-address=1"],
        stdout=subprocess.PIPE,
    )  # fmt: skip
    address = daemon.stdout.readline().decode().strip()  # printed once it accepts clients
    if not address:
        daemon.kill()
        daemon.wait()
        pytest.fail("dbus-daemon did not start")
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
    try:
        yield address
    finally:
        daemon.terminate()
        daemon.wait()
        daemon.stdout.close()


class FakePortalProcess:
    def __init__(self, address: str, config: dict) -> None:
        self.address = address
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "fake_portal.py"), json.dumps(config)],
            cwd=REPO,
            env=child_env(DBUS_SESSION_BUS_ADDRESS=address),
            stdout=subprocess.PIPE,
        )
        line = self.process.stdout.readline().decode().strip()
        assert line == "ready", "the fake portal did not start"

    def _control(self, method: str, signature: str | None = None, body: tuple = ()) -> tuple:
        conn = open_dbus_connection(self.address)
        try:
            where = DBusAddress(OBJECT_PATH, BUS_NAME, "org.picdrop.test.FakePortal")
            reply = conn.send_and_get_reply(new_method_call(where, method, signature, body))
            return reply.body
        finally:
            conn.close()

    def calls(self, method: str) -> list[dict]:
        """What the portal was asked, by method name."""
        (report,) = self._control("Calls")
        return [call for call in json.loads(report) if call["method"] == method]

    def press(self, shortcut: str) -> None:
        self._control("Activate", "s", (shortcut,))

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait()
        self.process.stdout.close()


@pytest.fixture
def fake_portal(session_bus: str) -> Iterator[Callable[..., FakePortalProcess]]:
    started: list[FakePortalProcess] = []

    def start(**config) -> FakePortalProcess:
        started.append(FakePortalProcess(session_bus, config))
        return started[-1]

    yield start
    for portal in started:
        portal.stop()


@pytest.fixture
def grabber(qtbot) -> Iterator[PortalScreenGrabber]:
    made = PortalScreenGrabber()
    yield made
    made.close()
    delete_qobject(made)


# -- Screenshot ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["shot.png", "Screenshot from 2026-11-30 #1 %.png"])
def test_the_screen_is_read_through_the_portal(fake_portal, grabber, qtbot, tmp_path, name):
    known = Image.frombytes("RGB", (96, 64), bytes(range(256)) * 72)
    known.save(tmp_path / name)
    portal = fake_portal(screenshot_uri="file://" + quote(str(tmp_path / name)))

    with qtbot.waitSignal(grabber.grabbed) as grabbed:
        grabber.grab()
    image: QImage = grabbed.args[0]
    expected = QImage(str(tmp_path / name))
    assert not expected.isNull()
    assert image.size() == expected.size()
    assert image.convertToFormat(QImage.Format.Format_RGB32) == expected.convertToFormat(
        QImage.Format.Format_RGB32
    )
    (call,) = portal.calls("Screenshot")
    assert call["options"]["handle_token"].startswith("picdrop_")  # the Request pattern
    assert call["options"]["modal"] is True


@pytest.mark.parametrize(
    ("code", "outcome", "message"),
    [
        (1, "cancelled", None),  # the user closed the portal's dialog: nothing to report
        (2, "failed", "The desktop could not complete the request."),
    ],
)
def test_a_screenshot_request_the_portal_ends_without_an_image(
    fake_portal, grabber, qtbot, tmp_path, code, outcome, message
) -> None:
    fake_portal(screenshot_code=code, screenshot_uri="file:///nonexistent.png")
    outcomes: list[tuple] = []
    grabber.grabbed.connect(lambda image: outcomes.append(("grabbed",)))
    grabber.cancelled.connect(lambda: outcomes.append(("cancelled", None)))
    grabber.failed.connect(lambda text: outcomes.append(("failed", text)))
    grabber.grab()
    qtbot.waitUntil(lambda: outcomes != [])
    assert outcomes == [(outcome, message)]


def test_a_response_forged_by_another_peer_is_not_believed(
    fake_portal, grabber, qtbot, tmp_path
) -> None:
    Image.new("RGB", (40, 30), "green").save(tmp_path / "real.png")
    Image.new("RGB", (50, 50), "red").save(tmp_path / "forged.png")
    fake_portal(
        screenshot_uri=f"file://{tmp_path}/real.png", impostor_uri=f"file://{tmp_path}/forged.png"
    )
    with qtbot.waitSignal(grabber.grabbed) as grabbed:
        grabber.grab()
    assert grabbed.args[0].size().toTuple() == (40, 30)  # the portal's, not the impostor's


def test_quitting_while_the_portal_dialog_is_up_ends_the_wait_quietly(
    fake_portal, grabber, qtbot, qapp
) -> None:
    portal = fake_portal(screenshot_code=None)  # the dialog stays up
    outcomes: list[str] = []
    grabber.grabbed.connect(lambda image: outcomes.append("grabbed"))
    grabber.cancelled.connect(lambda: outcomes.append("cancelled"))
    grabber.failed.connect(outcomes.append)
    grabber.grab()
    qtbot.waitUntil(lambda: portal.calls("Screenshot") != [])
    grabber.close()  # returns: the thread waiting for the Response has ended
    qapp.processEvents()  # deliver anything the thread queued
    assert outcomes == []


@pytest.mark.parametrize("bus", ["no portal on the bus", "no session bus"])
def test_a_missing_screenshot_portal_is_said_plainly(
    session_bus, grabber, qtbot, monkeypatch, bus
) -> None:
    if bus == "no session bus":
        monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS")
    with qtbot.waitSignal(grabber.failed) as failed:
        grabber.grab()
    assert failed.args == [NO_SCREENSHOT_PORTAL]


# -- GlobalShortcuts ----------------------------------------------------------------------------
@pytest.fixture
def hotkeys(qtbot) -> Iterator[HotkeyService]:
    backend = PortalHotkeyBackend()
    service = HotkeyService(backend)
    yield service
    service.shutdown()
    delete_qobject(service)
    delete_qobject(backend)


def test_a_portal_shortcut_becomes_its_request(fake_portal, hotkeys, qtbot) -> None:
    portal = fake_portal()
    with qtbot.waitSignal(hotkeys.backend.bound):
        hotkeys.apply(hotkey_texts(AppConfig()))
    assert hotkeys.problems == {}
    assert hotkeys.notice == ""
    (bind,) = portal.calls("BindShortcuts")
    assert bind["shortcuts"] == [
        ["region", {"description": "Capture a region", "preferred_trigger": "CTRL+SHIFT+4"}],
        ["screen", {"description": "Capture the full screen", "preferred_trigger": "CTRL+SHIFT+3"}],
        ["window", {"description": "Capture a window", "preferred_trigger": "CTRL+SHIFT+5"}],
        ["clipboard", {"description": "Upload the clipboard", "preferred_trigger": "CTRL+ALT+u"}],
    ]
    (create,) = portal.calls("CreateSession")
    assert bind["session"].endswith("/" + create["options"]["session_handle_token"])

    with qtbot.waitSignal(hotkeys.capture_requested) as requested:
        portal.press("window")
    assert requested.args == ["window"]
    with qtbot.waitSignal(hotkeys.upload_clipboard_requested):
        portal.press("clipboard")


def test_an_activation_forged_by_another_peer_is_not_believed(fake_portal, hotkeys, qtbot):
    portal = fake_portal(impostor_shortcut="clipboard")
    with qtbot.waitSignal(hotkeys.backend.bound):
        hotkeys.apply(hotkey_texts(AppConfig()))
    requests: list[str] = []
    hotkeys.capture_requested.connect(requests.append)
    hotkeys.upload_clipboard_requested.connect(lambda: requests.append("clipboard"))
    portal.press("region")  # the forged "clipboard" reaches picdrop just before
    qtbot.waitUntil(lambda: requests != [])
    assert requests == ["region"]


def test_new_keys_take_a_new_portal_session(fake_portal, hotkeys, qtbot) -> None:
    portal = fake_portal()
    with qtbot.waitSignal(hotkeys.backend.bound):
        hotkeys.apply({Action.REGION: "Ctrl+Shift+4"})
    with qtbot.waitSignal(hotkeys.backend.bound):
        hotkeys.apply({Action.REGION: "Ctrl+Alt+R"})
    first, second = portal.calls("BindShortcuts")
    assert second["shortcuts"][0][1]["preferred_trigger"] == "CTRL+ALT+r"
    assert portal.calls("Session.Close") == [
        {"method": "Session.Close", "session": first["session"]}
    ]
    with qtbot.waitSignal(hotkeys.capture_requested) as requested:
        portal.press("region")
    assert requested.args == ["region"]


def test_a_shortcut_the_desktop_did_not_bind_is_reported(fake_portal, hotkeys, qtbot) -> None:
    fake_portal(bind=["region"])  # the user kept only one in the desktop's dialog
    troubles: list[tuple[str, str]] = []
    hotkeys.trouble.connect(lambda title, text: troubles.append((title, text)))
    with qtbot.waitSignal(hotkeys.backend.bound):
        hotkeys.apply({Action.REGION: "Ctrl+Shift+4", Action.WINDOW: "Ctrl+Shift+5"})
    qtbot.waitUntil(lambda: troubles != [])
    assert hotkeys.problems == {Action.WINDOW: "The desktop did not bind this shortcut."}
    assert troubles == [
        ("Hotkey for “Capture a window” not set", "The desktop did not bind this shortcut.")
    ]


@pytest.mark.parametrize("desktop", ["a portal without GlobalShortcuts", "no portal at all"])
def test_without_a_shortcuts_portal_the_fallback_is_shown(
    fake_portal, hotkeys, qtbot, desktop
) -> None:
    if desktop == "a portal without GlobalShortcuts":
        fake_portal(shortcuts=False)
    with qtbot.waitSignal(hotkeys.trouble) as trouble:
        hotkeys.apply(hotkey_texts(AppConfig()))
    assert trouble.args == ["Global hotkeys are not available", NO_SHORTCUTS_PORTAL]
    assert hotkeys.notice == NO_SHORTCUTS_PORTAL
    assert "picdrop capture region" in NO_SHORTCUTS_PORTAL
