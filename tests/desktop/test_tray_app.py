"""The app with and without a tray: closing hides to the tray (saying so once) or quits; start
minimized; files handed over by a second launch; start on login (XDG entry tested for real, the
macOS and Windows entries through their file and registry formats)."""

from __future__ import annotations

import logging
import plistlib
import shlex
import subprocess
from dataclasses import replace

import pytest

from desktop.app import PicdropApp
from desktop.core import autostart
from desktop.core.config import AppConfig
from desktop.core.intake import FileSource
from desktop.core.jobs import JobState
from desktop.settings import SettingsStore
from desktop.ui.settings_dialog import SettingsDialog

TIMEOUT = 20_000


@pytest.fixture
def make_app(picdrop_app, qsettings, tmp_path, live_server):
    def make(*, tray: bool | None, config: AppConfig | None = None) -> PicdropApp:
        if config is not None:
            SettingsStore(qsettings).save(config)
        return picdrop_app(
            environ={"PICDROP_SERVER": live_server.url},
            tray_available=tray,
            autostart_entry=autostart.XdgAutostart(config_home=tmp_path / "xdg-config"),
        )

    return make


def test_with_a_tray_closing_hides_to_it_and_says_so_once(make_app, qapp, qsettings) -> None:
    app = make_app(tray=True)
    notes: list[tuple[str, str]] = []
    app.tray.notified.connect(lambda title, text: notes.append((title, text)))
    app.start()
    assert app.window.isVisible()
    assert not qapp.quitOnLastWindowClosed()  # the app lives on in the tray

    app.window.close()
    assert not app.window.isVisible()
    assert [title for title, _ in notes] == ["picdrop is still running"]
    assert SettingsStore(qsettings).load().tray_notice_shown  # once, ever

    app.tray.show_window.emit()  # the tray's "Show window"
    assert app.window.isVisible()
    app.window.close()
    assert len(notes) == 1


def test_quit_from_the_tray_really_quits(make_app, qapp, monkeypatch) -> None:
    app = make_app(tray=True)
    app.start()
    quits: list[bool] = []
    monkeypatch.setattr(
        app, "qt_app", type("Fake", (), {"quit": lambda self: quits.append(True)})()
    )
    app.tray.action("Quit picdrop").trigger()
    assert quits == [True]
    assert not app.window.close_to_tray  # the window's close no longer hides


def test_without_a_tray_the_window_is_everything(make_app, qapp, caplog) -> None:
    caplog.set_level(logging.INFO, logger="desktop.app")
    app = make_app(tray=False, config=AppConfig(start_minimized=True))
    tray_lines = [r for r in caplog.records if "tray" in r.getMessage()]
    assert len(tray_lines) == 1  # one log line, nothing shown to the user
    assert app.tray is None
    assert qapp.quitOnLastWindowClosed()
    app.start()
    assert app.window.isVisible()  # "start minimized" needs a tray to go to
    app.window.close()
    assert not app.window.isVisible() and not app.window.close_to_tray


def test_a_tray_that_appears_later_is_used(make_app, qapp, qtbot, monkeypatch) -> None:
    from PySide6.QtWidgets import QSystemTrayIcon

    import desktop.app

    available = [False]
    monkeypatch.setattr(QSystemTrayIcon, "isSystemTrayAvailable", lambda: available[0])
    monkeypatch.setattr(desktop.app, "TRAY_WATCH_MS", 10)
    app = make_app(tray=None)  # detect: none yet (the panel starts after us at login)
    app.start()
    assert app.tray is None and qapp.quitOnLastWindowClosed()
    available[0] = True
    qtbot.waitUntil(lambda: app.tray is not None, timeout=5000)
    assert app.window.close_to_tray and not qapp.quitOnLastWindowClosed()


def test_start_minimized_to_the_tray(make_app) -> None:
    app = make_app(tray=True, config=AppConfig(start_minimized=True))
    app.start()
    assert app.tray is not None and not app.window.isVisible()


def test_files_from_a_second_launch_are_uploaded_and_raise_the_window(
    make_app, images, qtbot
) -> None:
    app = make_app(tray=True)
    app.start(minimized=True)
    assert not app.window.isVisible()
    with qtbot.waitSignal(app.uploads.batch_finished, timeout=TIMEOUT):
        app.open_files(images(2))
    assert app.window.isVisible()
    assert [j.state for j in app.uploads.jobs()] == [JobState.DONE, JobState.DONE]


def test_start_on_login_writes_a_working_xdg_autostart_entry(make_app, tmp_path) -> None:
    app = make_app(tray=False)
    entry = tmp_path / "xdg-config" / "autostart" / "org.picdrop.Picdrop.desktop"
    app.apply_config(replace(app.config, start_on_login=True))
    text = entry.read_text()
    assert "[Desktop Entry]\nType=Application\n" in text
    assert "X-GNOME-Autostart-enabled=true" in text
    exec_value = next(line for line in text.splitlines() if line.startswith("Exec="))[5:]
    # Undo the value escape, then the Exec quoting (which follows shell quoting rules).
    command = shlex.split(exec_value.replace("\\\\", "\\").replace("%%", "%"))
    assert command == autostart.launch_command()
    started = subprocess.run([*command, "--version"], capture_output=True, timeout=60)
    assert started.stdout.decode().startswith("picdrop ")

    app.apply_config(replace(app.config, start_on_login=False))
    assert not entry.exists()


def test_exec_quoting() -> None:
    assert autostart.exec_line(["/usr/bin/python3", "-m", "desktop"]) == (
        "/usr/bin/python3 -m desktop"
    )
    assert autostart.quote_exec_arg("/home/a b/py") == '"/home/a b/py"'
    assert autostart.quote_exec_arg('C:\\x "$y"') == '"C:\\\\\\\\x \\\\"\\\\$y\\\\""'
    assert autostart.quote_exec_arg("100%") == "100%%"


def test_launch_agent_on_macos(tmp_path) -> None:
    agent = autostart.LaunchAgentAutostart(home=tmp_path)
    agent.enable(["/Applications/picdrop.app/Contents/MacOS/picdrop"])
    plist = plistlib.loads(agent.path.read_bytes())
    assert agent.path == tmp_path / "Library/LaunchAgents/org.picdrop.Picdrop.plist"
    assert plist["ProgramArguments"] == ["/Applications/picdrop.app/Contents/MacOS/picdrop"]
    assert plist["RunAtLoad"] is True and plist["Label"] == "org.picdrop.Picdrop"
    assert agent.enabled()
    agent.disable()
    assert not agent.enabled()


class FakeWinreg:
    """Just enough of `winreg` (and its CamelCase names) for the Run key."""

    HKEY_CURRENT_USER = "HKCU"
    KEY_SET_VALUE = 2
    REG_SZ = 1

    def __init__(self) -> None:
        self.keys: dict[str, dict[str, tuple[int, str]]] = {}

    class _Key:
        def __init__(self, values):
            self.values = values

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    def CreateKey(self, root, path):
        return self._Key(self.keys.setdefault(f"{root}\\{path}", {}))

    def OpenKey(self, root, path, reserved=0, access=0):
        if f"{root}\\{path}" not in self.keys:
            raise FileNotFoundError(path)
        return self._Key(self.keys[f"{root}\\{path}"])

    def SetValueEx(self, key, name, reserved, kind, value):
        key.values[name] = (kind, value)

    def QueryValueEx(self, key, name):
        if name not in key.values:
            raise FileNotFoundError(name)
        return key.values[name][::-1]

    def DeleteValue(self, key, name):
        if name not in key.values:
            raise FileNotFoundError(name)
        del key.values[name]


def test_run_key_on_windows() -> None:
    registry = FakeWinreg()
    run = autostart.WindowsRunAutostart(registry)
    assert not run.enabled()
    run.enable([r"C:\Program Files\picdrop\picdrop.exe"])
    values = registry.keys[r"HKCU\Software\Microsoft\Windows\CurrentVersion\Run"]
    assert values["picdrop"] == (registry.REG_SZ, r'"C:\Program Files\picdrop\picdrop.exe"')
    assert run.enabled()
    run.disable()
    run.disable()  # already gone: fine
    assert not run.enabled()


def test_settings_dialog_has_the_tray_options(qtbot) -> None:
    dialog = SettingsDialog(AppConfig(start_minimized=True))
    qtbot.addWidget(dialog)
    assert dialog.start_minimized.isChecked() and not dialog.start_on_login.isChecked()
    dialog.start_on_login.setChecked(True)
    dialog.start_minimized.setChecked(False)
    config = dialog.config()
    assert config.start_on_login and not config.start_minimized


def test_an_album_made_while_hidden_is_told_by_the_tray(
    make_app, qapp, qtbot, images, live_server
) -> None:
    app = make_app(tray=True, config=AppConfig(auto_album=True, tray_notice_shown=True))
    notes: list[tuple[str, str]] = []
    app.tray.notified.connect(lambda title, text: notes.append((title, text)))
    app.start()
    app.window.close()  # hidden to the tray
    app.uploads.enqueue([FileSource(path) for path in images(2)])

    def told() -> bool:  # the notice says the link the clipboard holds
        return ("Album link copied", qapp.clipboard().text()) in notes

    qtbot.waitUntil(told, timeout=TIMEOUT)
    assert qapp.clipboard().text().startswith(f"{live_server.url}/a/")
