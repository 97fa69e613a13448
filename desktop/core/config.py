"""The user's preferences as plain data. `desktop.settings` loads and saves them with QSettings."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

from backend.expiry import EXPIRIES
from desktop.core.hotkeys import DEFAULT_HOTKEYS, Action
from desktop.core.jobs import DEFAULT_PARALLEL
from desktop.core.links import LinkFormat

SERVER_ENV = "PICDROP_SERVER"
EXAMPLE_SERVER = "https://img.example.com"
# A host name's labels (IDNA-encoded) or an IPv4 address; IPv6 literals are checked apart.
_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")


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
    auto_album: bool = False  # make an album of each batch (2+ uploads to a picdrop server)
    strip_metadata: bool = True
    open_after_upload: bool = False
    share_on_lan: bool = False
    start_minimized: bool = False  # start hidden in the tray (when there is a tray)
    start_on_login: bool = False
    # How long new uploads live ("1h", "1d", "7d", "30d", "never"); "": the server's default.
    default_expiry: str = ""
    # Where Browse… opens: the folder of the last images chosen ("": the Pictures folder).
    last_folder: str = ""
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


def server_url_problem(text: str) -> str:
    """What is wrong with a server address, in a sentence; "" when it is usable (or empty:
    the built-in server). Checked before it is tested, saved or used."""
    text = text.strip()
    if not text:
        return ""
    example = f"for example {EXAMPLE_SERVER}"
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return f"The port after the colon must be a number from 1 to 65535, {example}:8443."
    if parts.scheme.lower() not in ("http", "https"):
        return f"A server address starts with https:// or http://, {example}."
    if any(c.isspace() for c in text):
        return f"A server address has no spaces, {example}."
    host = parts.hostname or ""
    if not host:
        return f"The address has no server name after {parts.scheme}://, {example}."
    if port == 0:
        return f"The port after the colon must be a number from 1 to 65535, {example}:8443."
    if parts.query or parts.fragment or parts.username is not None:
        return f"A server address has no ?, # or user@ parts: remove them, {example}."
    if ":" not in host and not _valid_host_name(host):
        return f"“{host}” is not a valid server name, {example}."
    return ""


def _valid_host_name(host: str) -> bool:
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    labels = ascii_host.rstrip(".").split(".")
    return len(ascii_host) <= 253 and all(_HOST_LABEL.fullmatch(label) for label in labels)


def expiry_choices() -> list[tuple[str, str]]:
    """(name sent to the server, label) for the expiry choosers; "" is the server's default."""
    labels = {"never": "Never expires"}
    return [
        ("", "Expiry: server default"),
        *((e.name, labels.get(e.name, f"Expires in {e.label}")) for e in EXPIRIES),
    ]
