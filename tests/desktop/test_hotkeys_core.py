"""The Qt-free hotkey core: the text the user types in Settings, parsed, checked and written back
in one canonical spelling; the keysym and portal trigger each backend binds."""

from __future__ import annotations

import pytest

from desktop.core.config import AppConfig, hotkey_texts
from desktop.core.hotkeys import (
    DEFAULT_HOTKEYS,
    Action,
    HotkeyError,
    parse_bindings,
    parse_hotkey,
)


@pytest.mark.parametrize(
    ("text", "canonical", "keysym", "trigger"),
    [
        ("Ctrl+Print", "Ctrl+Print", "Print", "CTRL+Print"),
        ("ctrl + shift + prtsc", "Ctrl+Shift+Print", "Print", "CTRL+SHIFT+Print"),
        ("Shift+Ctrl+4", "Ctrl+Shift+4", "4", "CTRL+SHIFT+4"),
        ("alt+control+u", "Ctrl+Alt+U", "u", "CTRL+ALT+u"),
        ("Win+Shift+S", "Shift+Super+S", "s", "SHIFT+LOGO+s"),
        ("Cmd+PgUp", "Super+PageUp", "Prior", "LOGO+Prior"),
        ("Print", "Print", "Print", "Print"),
        ("F13", "F13", "F13", "F13"),
        ("Shift+F5", "Shift+F5", "F5", "SHIFT+F5"),
        ("Ctrl+Ctrl+Space", "Ctrl+Space", "space", "CTRL+space"),
        ("Alt+Return", "Alt+Enter", "Return", "ALT+Return"),
    ],
)
def test_a_hotkey_is_parsed_to_one_canonical_spelling(text, canonical, keysym, trigger) -> None:
    hotkey = parse_hotkey(text)
    assert hotkey is not None
    assert str(hotkey) == canonical
    assert hotkey.keysym == keysym
    assert hotkey.portal_trigger == trigger
    assert parse_hotkey(str(hotkey)) == hotkey  # the written form reads back the same


@pytest.mark.parametrize("text", ["", "   "])
def test_empty_text_means_no_hotkey(text) -> None:
    assert parse_hotkey(text) is None


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("Ctrl+", "empty part"),
        ("Ctrl++A", "empty part"),
        ("Ctrl+Shift", "no key"),
        ("Ctrl+A+B", "more than one key"),
        ("Ctrl+Hyper", "“Hyper” is not a key"),
        ("Ctrl+é", "“é” is not a key"),
        ("A", "needs Ctrl, Alt or Super"),
        ("Shift+A", "needs Ctrl, Alt or Super"),
        ("Shift+Space", "needs Ctrl, Alt or Super"),
        ("Tab", "needs Ctrl, Alt or Super"),
    ],
)
def test_a_hotkey_that_cannot_be_bound_is_refused_with_a_sentence(text, says) -> None:
    with pytest.raises(HotkeyError, match=says):
        parse_hotkey(text)


def test_bindings_report_bad_text_and_a_key_given_twice() -> None:
    bound, problems = parse_bindings(
        {
            Action.REGION: "Ctrl+Print",
            Action.SCREEN: "ctrl+prtsc",  # the same key, spelled differently
            Action.WINDOW: "Ctrl+Nope",
            Action.CLIPBOARD: "",
        }
    )
    assert {action: str(hotkey) for action, hotkey in bound.items()} == {
        Action.REGION: "Ctrl+Print"
    }
    assert problems[Action.SCREEN] == "Ctrl+Print is already used for “Capture a region”."
    assert "“Nope” is not a key" in problems[Action.WINDOW]
    assert Action.CLIPBOARD not in problems  # empty: no hotkey, not a problem


def test_the_defaults_are_four_distinct_bindable_hotkeys() -> None:
    texts = hotkey_texts(AppConfig())
    assert texts == DEFAULT_HOTKEYS
    bound, problems = parse_bindings(texts)
    assert problems == {}
    assert set(bound) == set(Action)
