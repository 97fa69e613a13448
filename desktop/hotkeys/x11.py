"""X11 global hotkeys: passive grabs of each key on the root window (python-xlib), served by a
thread of their own with their own X connection. A key another client has grabbed makes the X
server answer BadAccess: that hotkey is reported as taken."""

from __future__ import annotations

import contextlib
import os
import select
import threading
from collections.abc import Mapping

from PySide6.QtCore import QObject
from Xlib import XK, X, error
from Xlib.display import Display

from desktop.core.hotkeys import Action, Hotkey
from desktop.hotkeys.backend import HotkeyBackend, taken_message

MODIFIER_MASKS = {
    "Ctrl": X.ControlMask,
    "Alt": X.Mod1Mask,
    "Shift": X.ShiftMask,
    "Super": X.Mod4Mask,
}


class X11HotkeyBackend(HotkeyBackend):
    def __init__(self, display: str | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.display_name = display  # None: $DISPLAY
        self._thread: threading.Thread | None = None
        self._wake = -1  # written to stop the thread

    def bind(self, hotkeys: Mapping[Action, Hotkey]) -> None:
        self.close()
        if not hotkeys:
            return
        wake_read, self._wake = os.pipe()
        self._thread = threading.Thread(
            target=self._run, args=(dict(hotkeys), wake_read), name="x11-hotkeys", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        if self._thread is None:
            return
        # A thread that lost its X server has ended and closed its end of the pipe.
        with contextlib.suppress(BrokenPipeError):
            os.write(self._wake, b"x")
        self._thread.join()
        os.close(self._wake)
        self._thread = None

    # -- on the thread ------------------------------------------------------------------------
    def _run(self, hotkeys: dict[Action, Hotkey], wake: int) -> None:
        try:
            display = Display(self.display_name)
        except (error.DisplayError, error.ConnectionClosedError, OSError) as exc:
            self.unavailable.emit(f"picdrop cannot reach the X server for hotkeys ({exc}).")
            os.close(wake)
            return
        try:
            lock_masks = _lock_masks(display)
            grabs = {}
            for action, hotkey in hotkeys.items():
                grab = _grab(display, hotkey, lock_masks)
                if isinstance(grab, str):
                    self.refused.emit(action.value, str(hotkey), grab)
                else:
                    grabs[grab] = action
            self.bound.emit()
            self._serve(display, grabs, lock_masks, wake)
        except (error.ConnectionClosedError, OSError) as exc:  # the X server went away
            self.unavailable.emit(f"picdrop lost the X server its hotkeys were on ({exc}).")
        finally:
            with contextlib.suppress(error.ConnectionClosedError, OSError):
                display.close()  # flushes: fails on a connection the server closed
            os.close(wake)

    def _serve(
        self, display: Display, grabs: dict[tuple[int, int], Action], locks: set[int], wake: int
    ) -> None:
        ignored = 0
        for lock in locks:
            ignored |= lock
        while True:
            while display.pending_events():
                event = display.next_event()
                if event.type == X.KeyPress:
                    action = grabs.get((event.detail, event.state & 0xFF & ~ignored))
                    if action is not None:
                        self.activated.emit(action.value)
            readable, _, _ = select.select([display.fileno(), wake], [], [])
            if wake in readable:
                return


def _grab(display: Display, hotkey: Hotkey, lock_masks: set[int]) -> tuple[int, int] | str:
    """Grab `hotkey` on the root window: its (keycode, modifiers), or why it cannot be had."""
    keycode = display.keysym_to_keycode(XK.string_to_keysym(hotkey.keysym))
    if not keycode:
        return f"No key on this keyboard gives {hotkey}: choose another key in Settings."
    modifiers = sum(MODIFIER_MASKS[m] for m in hotkey.modifiers)
    root = display.screen().root
    taken = error.CatchError(error.BadAccess)
    # Caps Lock and Num Lock are modifiers to X: grab the key with each of them on too.
    for lock in lock_masks:
        root.grab_key(
            keycode, modifiers | lock, True, X.GrabModeAsync, X.GrabModeAsync, onerror=taken
        )
    display.sync()  # the server has answered every grab: a BadAccess has arrived, if any
    if taken.get_error() is not None:
        for lock in lock_masks:  # give back the combinations that were granted
            root.ungrab_key(keycode, modifiers | lock)
        return taken_message(hotkey)
    return keycode, modifiers


def _lock_masks(display: Display) -> set[int]:
    """The modifier combinations a grab must also cover: none, Caps Lock, Num Lock, both."""
    numlock_code = display.keysym_to_keycode(XK.string_to_keysym("Num_Lock"))
    numlock = next(
        (
            1 << index
            for index, codes in enumerate(display.get_modifier_mapping())
            if numlock_code and numlock_code in codes
        ),
        0,
    )
    return {0, X.LockMask, numlock, X.LockMask | numlock}
