"""Copying without the app: a clipboard program that keeps serving the text after the command
exits (xclip and wl-copy fork into the background for that; pbcopy and clip hand it to the OS)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping


def clipboard_command(
    environ: Mapping[str, str],
    platform: str = sys.platform,
    which: Callable[[str], str | None] = shutil.which,
) -> list[str] | None:
    if platform == "darwin" and which("pbcopy"):
        return ["pbcopy"]
    if platform == "win32" and which("clip"):
        return ["clip"]
    if environ.get("WAYLAND_DISPLAY") and which("wl-copy"):
        return ["wl-copy"]
    if environ.get("DISPLAY"):
        if which("xclip"):
            return ["xclip", "-selection", "clipboard", "-in"]
        if which("xsel"):
            return ["xsel", "--clipboard", "--input"]
    return None


def copy_with(command: list[str], text: str) -> bool:
    try:
        # No pipes left open to us: the forked xclip keeps running after this command exits.
        completed = subprocess.run(
            command,
            input=text.encode(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return completed.returncode == 0
