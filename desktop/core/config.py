"""The user's preferences as plain data. `desktop.settings` loads and saves them with QSettings."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from desktop.core.hotkeys import DEFAULT_HOTKEYS, Action
from desktop.core.jobs import DEFAULT_PARALLEL
from desktop.core.links import LinkFormat

SERVER_ENV = "PICDROP_SERVER"


class AfterCapture(StrEnum):
    """What a screen capture leads to."""

    EDITOR = "editor"  # open the editor (annotate, redact, then upload, copy or save)
    UPLOAD = "upload"  # upload at once
    COPY = "copy"  # copy the image only

    @classmethod
    def parse(cls, value: str) -> AfterCapture:
        try:
            return cls(value)
        except ValueError:
            return cls.EDITOR


@dataclass
class AppConfig:
    server_url: str = ""  # empty: run the embedded local server
    destination: str = ""  # an imported ShareX custom uploader; empty: the picdrop server
    link_format: LinkFormat = LinkFormat.URL
    link_template: str = "{url}"
    parallel_uploads: int = DEFAULT_PARALLEL
    auto_copy: bool = True
    strip_metadata: bool = True
    open_after_upload: bool = False
    share_on_lan: bool = False
    start_minimized: bool = False  # start hidden in the tray (when there is a tray)
    start_on_login: bool = False
    # The "still running in the tray" notice is shown the first time the window is closed only.
    tray_notice_shown: bool = False
    # The embedded server's port is kept between runs so that old local links keep working.
    embedded_port: int = 0
    after_capture: str = AfterCapture.EDITOR.value
    # Global hotkeys (desktop.core.hotkeys), in their text form; empty: no hotkey.
    hotkey_region: str = DEFAULT_HOTKEYS[Action.REGION]
    hotkey_screen: str = DEFAULT_HOTKEYS[Action.SCREEN]
    hotkey_window: str = DEFAULT_HOTKEYS[Action.WINDOW]
    hotkey_clipboard: str = DEFAULT_HOTKEYS[Action.CLIPBOARD]


def hotkey_texts(config: AppConfig) -> dict[Action, str]:
    return {action: getattr(config, f"hotkey_{action}") for action in Action}


def effective_server(config: AppConfig, environ: Mapping[str, str] | None = None) -> str:
    """PICDROP_SERVER beats the saved setting; empty means "use the embedded server"."""
    environ = os.environ if environ is None else environ
    return (environ.get(SERVER_ENV) or config.server_url or "").strip().rstrip("/")
