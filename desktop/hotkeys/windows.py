"""Windows global hotkeys: RegisterHotKey on a thread of its own, whose message loop receives
WM_HOTKEY. A combination another program has registered fails with
ERROR_HOTKEY_ALREADY_REGISTERED: reported as taken. (Loads user32 only when binding, so the
module imports anywhere.)"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Mapping

from PySide6.QtCore import QObject

from desktop.core.hotkeys import Action, Hotkey
from desktop.hotkeys.backend import HotkeyBackend, taken_message

WM_HOTKEY = 0x0312
WM_QUIT = 0x0012
MOD_NOREPEAT = 0x4000
ERROR_HOTKEY_ALREADY_REGISTERED = 1409
MODIFIER_FLAGS = {"Alt": 0x1, "Ctrl": 0x2, "Shift": 0x4, "Super": 0x8}
VIRTUAL_KEYS = {
    "Print": 0x2C,
    "Pause": 0x13,
    "Insert": 0x2D,
    "Delete": 0x2E,
    "Home": 0x24,
    "End": 0x23,
    "PageUp": 0x21,
    "PageDown": 0x22,
    "Left": 0x25,
    "Up": 0x26,
    "Right": 0x27,
    "Down": 0x28,
    "Space": 0x20,
    "Tab": 0x09,
    "Enter": 0x0D,
    "Backspace": 0x08,
    "Escape": 0x1B,
    **{f"F{n}": 0x6F + n for n in range(1, 25)},  # VK_F1 is 0x70
}


def virtual_key(key: str) -> int:
    """Letters and digits are their own (capital) ASCII codes."""
    return VIRTUAL_KEYS.get(key) or ord(key)


class WindowsHotkeyBackend(HotkeyBackend):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thread: threading.Thread | None = None
        self._thread_id = 0
        self._queue_ready = threading.Event()

    def bind(self, hotkeys: Mapping[Action, Hotkey]) -> None:
        self.close()
        if not hotkeys:
            return
        self._queue_ready.clear()
        self._thread = threading.Thread(
            target=self._run, args=(dict(hotkeys),), name="windows-hotkeys", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        if self._thread is None:
            return
        self._queue_ready.wait()
        ctypes.WinDLL("user32").PostThreadMessageW(self._thread_id, WM_QUIT, 0, 0)
        self._thread.join()
        self._thread = None

    def _run(self, hotkeys: dict[Action, Hotkey]) -> None:
        from ctypes import wintypes

        try:
            user32 = ctypes.WinDLL("user32", use_last_error=True)
            message = wintypes.MSG()
            # Hotkeys registered without a window post WM_HOTKEY to this thread's message
            # queue, which exists once the thread has peeked at it.
            user32.PeekMessageW(ctypes.byref(message), None, 0, 0, 0)
            self._thread_id = threading.get_native_id()
        finally:
            self._queue_ready.set()  # close() must not wait for a thread that died
        registered: dict[int, Action] = {}
        for ident, (action, hotkey) in enumerate(hotkeys.items(), start=1):
            flags = MOD_NOREPEAT | sum(MODIFIER_FLAGS[m] for m in hotkey.modifiers)
            if user32.RegisterHotKey(None, ident, flags, virtual_key(hotkey.key)):
                registered[ident] = action
                continue
            code = ctypes.get_last_error()
            reason = (
                taken_message(hotkey)
                if code == ERROR_HOTKEY_ALREADY_REGISTERED
                else f"Windows refused {hotkey} (error {code})."
            )
            self.refused.emit(action.value, str(hotkey), reason)
        self.bound.emit()
        while user32.GetMessageW(ctypes.byref(message), None, 0, 0) > 0:  # 0: WM_QUIT
            if message.message == WM_HOTKEY and message.wParam in registered:
                self.activated.emit(registered[message.wParam].value)
        for ident in registered:
            user32.UnregisterHotKey(None, ident)
