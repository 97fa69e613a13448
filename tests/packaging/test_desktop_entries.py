"""Every desktop entry picdrop writes (the menu entry, the autostart one) validates without a
hint and names exactly one main category, so menus list the app once; the AppStream metainfo
validates, matches the app and is installed with the entry."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import tarfile
from pathlib import Path
from xml.etree import ElementTree

import pytest

import desktop
from desktop.core.autostart import XdgAutostart
from desktop.tools import linux_package
from desktop.tools.linux_package import desktop_entry
from tests.conftest import require_program

REPO = Path(__file__).resolve().parents[2]

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


# -- AppStream metainfo ---------------------------------------------------------------------------
METAINFO = REPO / "assets" / "linux" / linux_package.METAINFO


def test_appstream_metainfo_validates_and_matches_the_app():
    appstreamcli = require_program("appstreamcli")
    result = subprocess.run(
        [appstreamcli, "validate", "--no-net", str(METAINFO)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    root = ElementTree.parse(METAINFO).getroot()
    assert root.findtext("id") == desktop.APP_ID
    assert root.findtext("launchable") == f"{desktop.APP_ID}.desktop"
    assert root.find("releases/release").get("version") == desktop.__version__
    assert root.find("content_rating") is not None and root.findall("screenshots/screenshot")
    categories = [c.text for c in root.findall("categories/category")]
    assert ";".join(categories) + ";" == desktop.DESKTOP_CATEGORIES


def test_install_puts_the_metainfo_beside_the_entry(tmp_path):
    written = linux_package.install(Path("/usr/bin/picdrop"), target=tmp_path)
    installed = tmp_path / "metainfo" / linux_package.METAINFO
    assert installed in written and installed.read_bytes() == METAINFO.read_bytes()
    assert installed in linux_package.uninstall(tmp_path) and not installed.exists()


def test_the_tarball_and_its_install_script_carry_the_metainfo(tmp_path):
    """A stand-in for the one-folder build (its _internal/assets as build.spec bundles them)."""
    require_program("sh")
    folder = tmp_path / "dist" / desktop.APP_NAME
    shutil.copytree(REPO / "assets", folder / "_internal" / "assets")
    (folder / desktop.APP_NAME).write_text("#!/bin/sh\n")
    (folder / desktop.APP_NAME).chmod(0o755)
    out = linux_package.tarball(tmp_path / "dist")
    top = f"{desktop.APP_NAME}-{desktop.__version__}"
    with tarfile.open(out) as tar:
        tar.extractall(tmp_path / "unpacked", filter="data")
    unpacked = tmp_path / "unpacked" / top
    appdir_copy = unpacked / "usr" / "share" / "metainfo" / linux_package.METAINFO
    assert appdir_copy.read_bytes() == METAINFO.read_bytes()
    data = tmp_path / "data"
    result = subprocess.run(
        ["sh", str(unpacked / "install-desktop.sh")],
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), "XDG_DATA_HOME": str(data)},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert (data / "metainfo" / linux_package.METAINFO).read_bytes() == METAINFO.read_bytes()
