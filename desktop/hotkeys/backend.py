"""The seam every platform's hotkey backend implements."""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtCore import QObject, Signal

from desktop.core.hotkeys import Action, Hotkey


class HotkeyBackend(QObject):
    """Binds hotkeys system-wide and reports by signal. Backends that wait on a thread emit from
    it; Qt queues the signals to the receiver's (GUI) thread."""

    activated = Signal(str)  # the Action's value
    # The Action's value, the hotkey's text, and a sentence saying why it is not bound.
    refused = Signal(str, str, str)
    unavailable = Signal(str)  # a sentence: this backend binds no hotkeys at all
    bound = Signal()  # every hotkey given to bind() is now active or refused

    def bind(self, hotkeys: Mapping[Action, Hotkey]) -> None:
        """Replace whatever was bound with `hotkeys`."""
        raise NotImplementedError

    def close(self) -> None:
        """Release every hotkey (and stop any thread)."""
        raise NotImplementedError


def taken_message(hotkey: Hotkey) -> str:
    return f"{hotkey} is already used by another program: choose another key in Settings."
