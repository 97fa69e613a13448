"""Global hotkeys as plain data: what each one does, the default keys, and the text form the user
types in Settings ("Ctrl+Shift+4"), parsed and written back in one canonical spelling. The
platform backends (desktop.hotkeys) turn a `Hotkey` into a key grab."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class Action(StrEnum):
    REGION = "region"
    SCREEN = "screen"
    WINDOW = "window"
    CLIPBOARD = "clipboard"

    @property
    def label(self) -> str:
        return ACTION_LABELS[self]


ACTION_LABELS = {
    Action.REGION: "Capture a region",
    Action.SCREEN: "Capture the full screen",
    Action.WINDOW: "Capture a window",
    Action.CLIPBOARD: "Upload the clipboard",
}
CAPTURE_MODES = (Action.REGION, Action.SCREEN, Action.WINDOW)

# Print and its Shift/Alt/Super variants belong to the desktop's own screenshot tool on GNOME,
# KDE and openbox: picdrop's defaults stay off them, on the macOS-like Ctrl+Shift digits.
DEFAULT_HOTKEYS = {
    Action.REGION: "Ctrl+Shift+4",
    Action.SCREEN: "Ctrl+Shift+3",
    Action.WINDOW: "Ctrl+Shift+5",
    Action.CLIPBOARD: "Ctrl+Alt+U",
}

MODIFIERS = ("Ctrl", "Alt", "Shift", "Super")  # the canonical order
_MODIFIER_NAMES = {
    "ctrl": "Ctrl",
    "control": "Ctrl",
    "alt": "Alt",
    "option": "Alt",
    "shift": "Shift",
    "super": "Super",
    "meta": "Super",
    "win": "Super",
    "cmd": "Super",
    "command": "Super",
    "logo": "Super",
}

# Keys picdrop can bind, by canonical name: their X11/xkb keysym name (also what the portal's
# shortcut triggers use). Letters and digits are added below.
NAMED_KEYS = {
    "Print": "Print",
    "Pause": "Pause",
    "Insert": "Insert",
    "Delete": "Delete",
    "Home": "Home",
    "End": "End",
    "PageUp": "Prior",
    "PageDown": "Next",
    "Up": "Up",
    "Down": "Down",
    "Left": "Left",
    "Right": "Right",
    "Space": "space",
    "Tab": "Tab",
    "Enter": "Return",
    "Backspace": "BackSpace",
    "Escape": "Escape",
    **{f"F{n}": f"F{n}" for n in range(1, 25)},
}
_KEY_ALIASES = {
    "prtsc": "Print",
    "prtscn": "Print",
    "printscreen": "Print",
    "del": "Delete",
    "ins": "Insert",
    "pgup": "PageUp",
    "pgdn": "PageDown",
    "pgdown": "PageDown",
    "return": "Enter",
    "esc": "Escape",
}
_KEYS_BY_LOWER = {name.lower(): name for name in NAMED_KEYS} | _KEY_ALIASES
# Keys that type something: bound without Ctrl, Alt or Super they would swallow ordinary typing.
_TYPING_KEYS = {"Space", "Tab", "Enter", "Backspace"}
_COMMAND_MODIFIERS = {"Ctrl", "Alt", "Super"}


class HotkeyError(ValueError):
    """A hotkey text that cannot be bound; the message is a sentence for the user."""


@dataclass(frozen=True)
class Hotkey:
    modifiers: frozenset[str]
    key: str  # canonical: "A", "4", "Print", "F5", "PageUp"

    def __str__(self) -> str:
        return "+".join([m for m in MODIFIERS if m in self.modifiers] + [self.key])

    @property
    def keysym(self) -> str:
        """The X11/xkb keysym name of the key ("a", "4", "Print", "Prior")."""
        return NAMED_KEYS.get(self.key, self.key.lower())

    @property
    def portal_trigger(self) -> str:
        """The trigger in the XDG shortcuts specification's form ("CTRL+SHIFT+Print"), as the
        GlobalShortcuts portal's preferred_trigger takes it."""
        names = {"Ctrl": "CTRL", "Alt": "ALT", "Shift": "SHIFT", "Super": "LOGO"}
        return "+".join([names[m] for m in MODIFIERS if m in self.modifiers] + [self.keysym])


def parse_hotkey(text: str) -> Hotkey | None:
    """`"ctrl + shift + prtsc"` -> Hotkey(Ctrl+Shift+Print); empty text -> None (no hotkey)."""
    text = text.strip()
    if not text:
        return None
    parts = [part.strip() for part in text.split("+")]
    if text.endswith("+") or not all(parts):
        raise HotkeyError(f"“{text}” has an empty part: write keys like Ctrl+Shift+4.")
    modifiers: set[str] = set()
    keys: list[str] = []
    for part in parts:
        lower = part.lower()
        if lower in _MODIFIER_NAMES:
            modifiers.add(_MODIFIER_NAMES[lower])
        elif lower in _KEYS_BY_LOWER:
            keys.append(_KEYS_BY_LOWER[lower])
        elif len(part) == 1 and part.isascii() and part.isalnum():
            keys.append(part.upper())
        else:
            raise HotkeyError(f"“{part}” is not a key picdrop can bind.")
    if not keys:
        raise HotkeyError(f"“{text}” has modifiers but no key.")
    if len(keys) > 1:
        raise HotkeyError(f"“{text}” names more than one key; a hotkey has one.")
    key = keys[0]
    if (key not in NAMED_KEYS or key in _TYPING_KEYS) and not modifiers & _COMMAND_MODIFIERS:
        raise HotkeyError(f"{key} needs Ctrl, Alt or Super with it, or it would stop typing.")
    return Hotkey(frozenset(modifiers), key)


def parse_bindings(
    texts: Mapping[Action, str],
) -> tuple[dict[Action, Hotkey], dict[Action, str]]:
    """Parse each action's hotkey text: the hotkeys to bind, and a sentence for each action whose
    text cannot be bound (unknown keys, or a key already given to another action)."""
    bound: dict[Action, Hotkey] = {}
    problems: dict[Action, str] = {}
    for action, text in texts.items():
        try:
            hotkey = parse_hotkey(text)
        except HotkeyError as error:
            problems[action] = str(error)
            continue
        if hotkey is None:
            continue
        other = next((a for a, h in bound.items() if h == hotkey), None)
        if other is not None:
            problems[action] = f"{hotkey} is already used for “{other.label}”."
            continue
        bound[action] = hotkey
    return bound, problems
