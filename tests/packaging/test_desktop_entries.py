"""Every desktop entry picdrop writes (the menu entry, the autostart one) validates without a
hint and names exactly one main category, so menus list the app once."""

from __future__ import annotations

import configparser
import subprocess

import pytest

from desktop.core.autostart import XdgAutostart
from desktop.tools.linux_package import desktop_entry
from tests.conftest import require_program

# The freedesktop menu specification's main categories.
MAIN_CATEGORIES = frozenset(
    [
        "AudioVideo",
        "Audio",
        "Video",
        "Development",
        "Education",
        "Game",
        "Graphics",
        "Network",
        "Office",
        "Science",
        "Settings",
        "System",
        "Utility",
    ]
)
ENTRIES = {
    "menu": lambda tmp_path: desktop_entry("/usr/bin/picdrop"),
    "autostart": lambda tmp_path: XdgAutostart(config_home=tmp_path).entry(["/usr/bin/picdrop"]),
}


@pytest.mark.parametrize("kind", sorted(ENTRIES))
def test_desktop_entry_has_one_main_category_and_validates(tmp_path, kind):
    text = ENTRIES[kind](tmp_path)
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read_string(text)
    categories = parser["Desktop Entry"]["Categories"].rstrip(";").split(";")
    assert len(MAIN_CATEGORIES.intersection(categories)) == 1, categories
    path = tmp_path / "org.picdrop.Picdrop.desktop"
    path.write_text(text, encoding="utf-8")
    validate = require_program("desktop-file-validate")
    result = subprocess.run([validate, str(path)], capture_output=True, text=True)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout
