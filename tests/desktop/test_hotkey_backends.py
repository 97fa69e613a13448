"""The Windows and macOS hotkey backends cannot run here; their key tables can be checked: every
key the core accepts maps to a key code of its own, so no binding fails for want of an entry."""

from __future__ import annotations

import string

from desktop.core.hotkeys import NAMED_KEYS
from desktop.hotkeys import macos, windows

LETTERS_AND_DIGITS = [*string.ascii_uppercase, *string.digits]


def test_every_bindable_key_has_its_own_windows_virtual_key() -> None:
    codes = {key: windows.virtual_key(key) for key in [*LETTERS_AND_DIGITS, *NAMED_KEYS]}
    assert all(0x08 <= code <= 0x87 for code in codes.values()), codes
    assert len(set(codes.values())) == len(codes)  # no two keys share a code


def test_every_letter_and_digit_has_its_own_mac_key_code() -> None:
    codes = {key: macos.KEY_CODES[key] for key in LETTERS_AND_DIGITS}
    assert len(set(codes.values())) == len(codes)


def test_the_named_keys_a_mac_lacks_are_only_f21_to_f24() -> None:
    assert set(NAMED_KEYS) - set(macos.KEY_CODES) == {"F21", "F22", "F23", "F24"}
