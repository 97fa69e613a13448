"""Starting picdrop when the user logs in: an XDG autostart entry on Linux and the BSDs, a value
under the Run key on Windows, a LaunchAgent on macOS.

Qt-free. Each kind takes its location as a parameter, so all three are exercised by tests on any
platform (the Windows one with a stand-in for `winreg`).
"""

from __future__ import annotations

import os
import plistlib
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from desktop import APP_DISPLAY_NAME, APP_ID, APP_NAME, DESKTOP_CATEGORIES

RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"


def launch_command() -> list[str]:
    """How to start this very installation's window: the frozen executable, or this Python
    running the `desktop` package (works in a virtual environment without any PATH entry)."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    return [sys.executable, "-m", "desktop"]


class Autostart(Protocol):
    def enable(self, command: Sequence[str]) -> None: ...
    def disable(self) -> None: ...
    def enabled(self) -> bool: ...


# -- Linux and other XDG desktops ----------------------------------------------------------
def quote_exec_arg(arg: str) -> str:
    """Quote one argument for a desktop entry's Exec key (Desktop Entry spec, "The Exec key"):
    reserved characters need double quotes, inside which " ` $ \\ are backslash-escaped; then the
    value as a whole escapes backslashes once more, as every string value does."""
    reserved = set(" \t\n\"'\\><~|&;$*?#()`")
    if arg and not (set(arg) & reserved):
        quoted = arg
    else:
        inner = "".join("\\" + c if c in '"`$\\' else c for c in arg)
        quoted = f'"{inner}"'
    return quoted.replace("\\", "\\\\").replace("%", "%%")


def exec_line(command: Sequence[str]) -> str:
    return " ".join(quote_exec_arg(a) for a in command)


class XdgAutostart:
    def __init__(self, config_home: Path | None = None, environ: Mapping[str, str] | None = None):
        environ = os.environ if environ is None else environ
        base = config_home or Path(
            environ.get("XDG_CONFIG_HOME")
            or Path(environ.get("HOME", "~")).expanduser() / ".config"
        )
        self.path = Path(base) / "autostart" / f"{APP_ID}.desktop"

    def entry(self, command: Sequence[str]) -> str:
        return (
            "[Desktop Entry]\n"
            "Type=Application\n"
            f"Name={APP_DISPLAY_NAME}\n"
            "Comment=Anonymous image sharing: drop an image, get a link\n"
            f"Exec={exec_line(command)}\n"
            f"Icon={APP_ID}\n"
            "Terminal=false\n"
            f"Categories={DESKTOP_CATEGORIES}\n"
            "X-GNOME-Autostart-enabled=true\n"
        )

    def enable(self, command: Sequence[str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(self.entry(command), encoding="utf-8")
        tmp.replace(self.path)

    def disable(self) -> None:
        self.path.unlink(missing_ok=True)

    def enabled(self) -> bool:
        return self.path.is_file()


# -- macOS ---------------------------------------------------------------------------------
class LaunchAgentAutostart:
    def __init__(self, home: Path | None = None) -> None:
        self.path = (home or Path.home()) / "Library" / "LaunchAgents" / f"{APP_ID}.plist"

    def plist(self, command: Sequence[str]) -> bytes:
        return plistlib.dumps(
            {
                "Label": APP_ID,
                "ProgramArguments": list(command),
                "RunAtLoad": True,
                "ProcessType": "Interactive",
            }
        )

    def enable(self, command: Sequence[str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_bytes(self.plist(command))

    def disable(self) -> None:
        self.path.unlink(missing_ok=True)

    def enabled(self) -> bool:
        return self.path.is_file()


# -- Windows -------------------------------------------------------------------------------
class WindowsRunAutostart:
    """A value named after the app under HKCU\\...\\Run. `registry` is the `winreg` module."""

    def __init__(self, registry: Any = None) -> None:
        if registry is None:
            import winreg as registry  # only exists on Windows
        self.reg = registry

    def enable(self, command: Sequence[str]) -> None:
        with self.reg.CreateKey(self.reg.HKEY_CURRENT_USER, RUN_KEY) as key:
            self.reg.SetValueEx(
                key, APP_NAME, 0, self.reg.REG_SZ, subprocess.list2cmdline(list(command))
            )

    def disable(self) -> None:
        try:
            with self.reg.OpenKey(
                self.reg.HKEY_CURRENT_USER, RUN_KEY, 0, self.reg.KEY_SET_VALUE
            ) as key:
                self.reg.DeleteValue(key, APP_NAME)
        except FileNotFoundError:
            pass

    def enabled(self) -> bool:
        try:
            with self.reg.OpenKey(self.reg.HKEY_CURRENT_USER, RUN_KEY) as key:
                self.reg.QueryValueEx(key, APP_NAME)
        except FileNotFoundError:
            return False
        return True


def autostart_for(platform: str = sys.platform) -> Autostart:
    if platform == "win32":
        return WindowsRunAutostart()
    if platform == "darwin":
        return LaunchAgentAutostart()
    return XdgAutostart()


def apply(enabled: bool, entry: Autostart | None = None) -> None:
    entry = entry or autostart_for()
    if enabled:
        entry.enable(launch_command())
    else:
        entry.disable()
