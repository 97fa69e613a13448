"""macOS global hotkeys: Carbon's RegisterEventHotKey (still the supported way to get a system-wide
key without the accessibility permission an event tap needs). Carbon delivers the presses on
the main thread through the Cocoa event loop Qt runs, so no thread is needed. (Loads Carbon only
when binding, so the module imports anywhere.)"""

from __future__ import annotations

import ctypes
from collections.abc import Mapping

from PySide6.QtCore import QObject

from desktop.core.hotkeys import Action, Hotkey
from desktop.hotkeys.backend import HotkeyBackend, taken_message

CARBON = "/System/Library/Frameworks/Carbon.framework/Carbon"
EVENT_HOTKEY_EXISTS = -9878  # eventHotKeyExistsErr


def four_cc(code: str) -> int:
    return int.from_bytes(code.encode(), "big")


MODIFIER_FLAGS = {"Super": 0x100, "Shift": 0x200, "Alt": 0x800, "Ctrl": 0x1000}  # cmdKey...
# Virtual key codes (kVK_*): positions on the ANSI keyboard, not characters.
KEY_CODES = {
    **dict(zip("ASDFHGZXCV", range(0x00, 0x0A), strict=True)),
    "B": 0x0B, "Q": 0x0C, "W": 0x0D, "E": 0x0E, "R": 0x0F, "Y": 0x10, "T": 0x11,
    "1": 0x12, "2": 0x13, "3": 0x14, "4": 0x15, "6": 0x16, "5": 0x17, "9": 0x19, "7": 0x1A,
    "8": 0x1C, "0": 0x1D, "O": 0x1F, "U": 0x20, "I": 0x22, "P": 0x23, "L": 0x25, "J": 0x26,
    "K": 0x28, "N": 0x2D, "M": 0x2E,
    "Enter": 0x24, "Tab": 0x30, "Space": 0x31, "Backspace": 0x33, "Escape": 0x35,
    "Print": 0x69, "Pause": 0x71,  # Apple keyboards put F13 and F15 where these are
    "Insert": 0x72, "Home": 0x73, "PageUp": 0x74, "Delete": 0x75, "End": 0x77,
    "PageDown": 0x79, "Left": 0x7B, "Right": 0x7C, "Down": 0x7D, "Up": 0x7E,
    "F1": 0x7A, "F2": 0x78, "F3": 0x63, "F4": 0x76, "F5": 0x60, "F6": 0x61, "F7": 0x62,
    "F8": 0x64, "F9": 0x65, "F10": 0x6D, "F11": 0x67, "F12": 0x6F, "F13": 0x69, "F14": 0x6B,
    "F15": 0x71, "F16": 0x6A, "F17": 0x40, "F18": 0x4F, "F19": 0x50, "F20": 0x5A,
}  # fmt: skip


class EventHotKeyID(ctypes.Structure):
    _fields_ = [("signature", ctypes.c_uint32), ("id", ctypes.c_uint32)]


class EventTypeSpec(ctypes.Structure):
    _fields_ = [("eventClass", ctypes.c_uint32), ("eventKind", ctypes.c_uint32)]


HANDLER = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)


class MacHotkeyBackend(HotkeyBackend):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._refs: list[ctypes.c_void_p] = []
        self._actions: dict[int, Action] = {}
        self._handler_ref: ctypes.c_void_p | None = None
        self._callback = HANDLER(self._on_event)  # kept: Carbon holds only the pointer

    def bind(self, hotkeys: Mapping[Action, Hotkey]) -> None:
        self.close()
        carbon = ctypes.CDLL(CARBON)
        carbon.GetApplicationEventTarget.restype = ctypes.c_void_p
        target = carbon.GetApplicationEventTarget()
        pressed = EventTypeSpec(four_cc("keyb"), 5)  # kEventHotKeyPressed
        self._handler_ref = ctypes.c_void_p()
        carbon.InstallEventHandler(
            ctypes.c_void_p(target), self._callback, 1, ctypes.byref(pressed), None,
            ctypes.byref(self._handler_ref),
        )  # fmt: skip
        for ident, (action, hotkey) in enumerate(hotkeys.items(), start=1):
            key = KEY_CODES.get(hotkey.key)
            if key is None:
                self.refused.emit(action.value, str(hotkey), f"macOS has no {hotkey.key} key.")
                continue
            ref = ctypes.c_void_p()
            status = carbon.RegisterEventHotKey(
                key, sum(MODIFIER_FLAGS[m] for m in hotkey.modifiers),
                EventHotKeyID(four_cc("PDrp"), ident), ctypes.c_void_p(target), 0,
                ctypes.byref(ref),
            )  # fmt: skip
            if status == 0:
                self._refs.append(ref)
                self._actions[ident] = action
            else:
                reason = (
                    taken_message(hotkey)
                    if status == EVENT_HOTKEY_EXISTS
                    else f"macOS refused {hotkey} (error {status})."
                )
                self.refused.emit(action.value, str(hotkey), reason)
        self.bound.emit()

    def close(self) -> None:
        if self._handler_ref is None:
            return
        carbon = ctypes.CDLL(CARBON)
        for ref in self._refs:
            carbon.UnregisterEventHotKey(ref)
        carbon.RemoveEventHandler(self._handler_ref)
        self._refs, self._actions, self._handler_ref = [], {}, None

    def _on_event(self, _call_ref: int, event: int, _user_data: int) -> int:
        pressed = EventHotKeyID()
        ctypes.CDLL(CARBON).GetEventParameter(
            ctypes.c_void_p(event), four_cc("----"), four_cc("hkid"), None,
            ctypes.sizeof(pressed), None, ctypes.byref(pressed),
        )  # fmt: skip
        action = self._actions.get(pressed.id)
        if action is not None:
            self.activated.emit(action.value)
        return 0
