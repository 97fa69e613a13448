"""The app's global hotkeys: binds the configured keys with the platform's backend, turns a key
press into intent (capture_requested, upload_clipboard_requested), and keeps what went wrong for
Settings to show and the tray to announce."""

from __future__ import annotations

import sys
from collections.abc import Mapping

from PySide6.QtCore import QObject, Signal, Slot

from desktop.core.hotkeys import Action, Hotkey, parse_bindings
from desktop.hotkeys.backend import HotkeyBackend

NO_HOTKEYS = "Global hotkeys need a desktop session (X11, Wayland, Windows or macOS)."


def platform_backend(platform_name: str, parent: QObject | None = None) -> HotkeyBackend | None:
    """The backend for this system; `platform_name` is QGuiApplication.platformName()."""
    if sys.platform == "win32":
        from desktop.hotkeys.windows import WindowsHotkeyBackend

        return WindowsHotkeyBackend(parent)
    if sys.platform == "darwin":
        from desktop.hotkeys.macos import MacHotkeyBackend

        return MacHotkeyBackend(parent)
    if platform_name == "xcb":
        from desktop.hotkeys.x11 import X11HotkeyBackend

        return X11HotkeyBackend(parent=parent)
    if platform_name == "wayland":
        from desktop.hotkeys.portal import PortalHotkeyBackend

        return PortalHotkeyBackend(parent)
    return None


class HotkeyService(QObject):
    capture_requested = Signal(str)  # "region", "screen" or "window"
    upload_clipboard_requested = Signal()
    problems_changed = Signal()  # read `problems` and `notice`
    # A problem the backend found after binding (a key taken, no portal): for a notification.
    trouble = Signal(str, str)  # title, text

    def __init__(self, backend: HotkeyBackend | None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.backend = backend
        self.problems: dict[Action, str] = {}  # per action: why its hotkey is not bound
        self.notice = ""  # why no hotkey works at all ("" when they can)
        self._bound: dict[Action, Hotkey] = {}
        if backend is not None:
            backend.activated.connect(self._on_activated)
            backend.refused.connect(self._on_refused)
            backend.unavailable.connect(self._on_unavailable)

    def apply(self, texts: Mapping[Action, str]) -> None:
        """Bind the hotkeys written in `texts` (Settings' text form), replacing the old ones."""
        self._bound, self.problems = parse_bindings(texts)
        self.notice = "" if self.backend is not None else NO_HOTKEYS
        if self.backend is not None:
            self.backend.bind(self._bound)
        self.problems_changed.emit()

    def shutdown(self) -> None:
        if self.backend is not None:
            self.backend.close()

    @Slot(str)
    def _on_activated(self, value: str) -> None:
        action = Action(value)
        if action is Action.CLIPBOARD:
            self.upload_clipboard_requested.emit()
        else:
            self.capture_requested.emit(action.value)

    @Slot(str, str, str)
    def _on_refused(self, value: str, hotkey: str, message: str) -> None:
        action = Action(value)
        if str(self._bound.get(action)) != hotkey:
            return  # about a hotkey replaced since: stale
        self.problems[action] = message
        self.problems_changed.emit()
        self.trouble.emit(f"Hotkey for “{action.label}” not set", message)

    @Slot(str)
    def _on_unavailable(self, message: str) -> None:
        self.notice = message
        self.problems_changed.emit()
        self.trouble.emit("Global hotkeys are not available", message)
