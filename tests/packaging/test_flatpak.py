"""The Flatpak manifest (deploy/flatpak/), checked as far as runs without the runtimes: it parses,
flatpak-builder reads it (--show-manifest), its app id is the one of the desktop entry and the
AppStream metainfo, and its wheels are the versions constraints.txt pins."""

from __future__ import annotations

import json
import re
import subprocess
import xml.etree.ElementTree as ET

import pytest
import yaml

import desktop
from tests.conftest import require_program
from tests.services import REPO

MANIFEST = REPO / "deploy" / "flatpak" / f"{desktop.APP_ID}.yml"
METAINFO = REPO / "assets" / "linux" / f"{desktop.APP_ID}.metainfo.xml"


@pytest.fixture(scope="module")
def manifest() -> dict:
    return yaml.safe_load(MANIFEST.read_text())


def _pins() -> dict[str, str]:
    lines = (REPO / "constraints.txt").read_text().splitlines()
    pins = [line.split("==") for line in lines if "==" in line and not line.startswith("#")]
    return {_normal(name): version.strip() for name, version in pins}


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_app_id_is_the_one_of_the_desktop_entry_and_the_metainfo(manifest):
    assert manifest["id"] == desktop.APP_ID
    metainfo = ET.parse(METAINFO).getroot()
    assert metainfo.findtext("id") == manifest["id"]
    assert metainfo.findtext("launchable[@type='desktop-id']") == f"{manifest['id']}.desktop"
    commands = "\n".join(c for m in manifest["modules"] for c in m.get("build-commands", []))
    # the entry and icons come from the project's own installer, named by the app id
    assert f'linux_package install --exec "${{FLATPAK_DEST}}/bin/{manifest["command"]}"' in commands


def test_names_a_runtime_and_a_command_the_project_installs(manifest):
    for key in ("runtime", "runtime-version", "sdk", "command", "finish-args", "modules"):
        assert manifest.get(key), key
    assert manifest["runtime"] in ("org.freedesktop.Platform", "org.kde.Platform")
    assert manifest["sdk"] == manifest["runtime"].replace("Platform", "Sdk")
    assert re.search(rf"^{manifest['command']} = ", (REPO / "pyproject.toml").read_text(), re.M)


def test_every_wheel_is_pinned_by_constraints_txt_and_hashed(manifest):
    pins = _pins()
    wheels = [s for m in manifest["modules"] for s in m["sources"] if s["type"] == "file"]
    names = set()
    for source in wheels:
        name, version = source["url"].rsplit("/", 1)[1].split("-")[:2]  # a wheel file name
        names.add(_normal(name))
        assert source["url"].startswith("https://files.pythonhosted.org/"), source["url"]
        assert re.fullmatch(r"[0-9a-f]{64}", source["sha256"]), source["url"]
        if _normal(name) != "setuptools":  # the build backend; pyproject.toml sets its floor
            assert pins.get(_normal(name)) == version, source["url"]
    assert {"pyside6-essentials", "shiboken6", "pillow", "fastapi", "uvicorn"} <= names


def test_flatpak_builder_reads_it(tmp_path):
    builder = require_program("flatpak-builder")
    done = subprocess.run(
        [builder, "--show-manifest", str(MANIFEST)],
        cwd=tmp_path,  # it makes its state directory (.flatpak-builder) in the working directory
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "WARNING" not in done.stderr, done.stderr  # unknown keys and wrong types only warn
    assert json.loads(done.stdout)["id"] == desktop.APP_ID
