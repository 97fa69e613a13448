"""Packaging pieces that need no PyInstaller run: the bundle rules build.spec applies, the icons,
the self-test from source, and the Linux desktop entry. (test_frozen.py builds the real thing.)"""

from __future__ import annotations

import configparser
import io
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

import desktop
from desktop import selftest
from desktop.tools import freeze, linux_package, render_icons
from tests.conftest import require_program

REPO = Path(__file__).resolve().parents[2]


def source_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PICDROP_", "XDG_"))}
    env.update(QT_QPA_PLATFORM="offscreen", HOME=str(tmp_path), XDG_DATA_HOME=str(tmp_path / "d"))
    return env


# -- build.spec's rules ---------------------------------------------------------------------------
def test_spec_takes_name_and_version_from_the_package():
    meta = freeze.app_metadata()
    assert meta["__version__"] == desktop.__version__
    assert (meta["APP_NAME"], meta["APP_ID"]) == (desktop.APP_NAME, desktop.APP_ID)
    assert freeze.numeric_version("1.2.3") == (1, 2, 3, 0)
    assert freeze.numeric_version("2.0rc1+local") == (2, 0, 1, 0)
    spec = (REPO / "build.spec").read_text()
    assert "freeze.app_metadata()" in spec and "PICDROP_ONEFILE" in spec


@pytest.mark.parametrize(
    "dest",
    [
        "PySide6/Qt/plugins/platforms/libqxcb.so",
        "PySide6/Qt/plugins/platforms/libqwayland.so",
        "PySide6/Qt/plugins/platforms/libqoffscreen.so",
        "PySide6/plugins/platforms/qwindows.dll",
        "PySide6/Qt/plugins/platforms/libqcocoa.dylib",
        "PySide6/Qt/plugins/wayland-shell-integration/libxdg-shell.so",
        "PySide6/Qt/plugins/imageformats/libqjpeg.so",
        "PySide6/Qt/plugins/imageformats/libqgif.so",
        "PySide6/Qt/plugins/imageformats/libqwebp.so",
        "PySide6/Qt/plugins/imageformats/libqsvg.so",
        "PySide6/Qt/plugins/iconengines/libqsvgicon.so",
        "PySide6/Qt/plugins/tls/libqopensslbackend.so",
        "PySide6/plugins/tls/qschannelbackend.dll",
        "PySide6/Qt/plugins/platformthemes/libqxdgdesktopportal.so",
        "PySide6/Qt/lib/libQt6Core.so.6",
        "PySide6/Qt/lib/libQt6DBus.so.6",
        "PySide6/Qt/lib/libQt6Network.so.6",
        "PySide6/Qt/lib/libQt6XcbQpa.so.6",
        "PySide6/Qt/lib/libQt6WaylandClient.so.6",
        "PySide6/Qt/lib/libicudata.so.73",
        "libxcb-cursor.so.0",
        "libxkbcommon-x11.so.0",
        "libssl.so.3",
        "libffi.so.8",
        "assets/icons/picdrop.svg",
        "backend/catalog/migrations/env.py",
    ],
)
def test_bundle_keeps(dest):
    assert freeze.keep_entry(dest)


@pytest.mark.parametrize(
    "dest",
    [
        "PySide6/Qt/plugins/platforms/libqvnc.so",
        "PySide6/Qt/plugins/platforms/libqeglfs.so",
        "PySide6/Qt/plugins/platformthemes/libqgtk3.so",
        "PySide6/Qt/plugins/imageformats/libqpdf.so",
        "PySide6/Qt/plugins/imageformats/libqtiff.so",
        "PySide6/Qt/plugins/sqldrivers/libqsqlite.so",
        "PySide6/Qt/plugins/qmltooling/libqmldbg_tcp.so",
        "PySide6/Qt/plugins/printsupport/libcupsprintersupport.so",
        "PySide6/Qt/plugins/networkinformation/libqnetworkmanager.so",
        "PySide6/Qt/plugins/egldeviceintegrations/libqeglfs-x11-integration.so",
        "PySide6/Qt/plugins/wayland-graphics-integration-server/libqt-wayland-compositor-wayland-egl.so",
        "PySide6/Qt/lib/libQt6Quick.so.6",
        "PySide6/Qt/lib/libQt6Qml.so.6",
        "PySide6/Qt/lib/libQt6Pdf.so.6",
        "PySide6/Qt/lib/libQt6OpenGL.so.6",
        "PySide6/Qt/lib/libQt6WaylandCompositor.so.6",
        "PySide6/Qt/translations/qtbase_de.qm",
        "PySide6/QtQml.abi3.so",
        "libX11.so.6",
        "libfontconfig.so.1",
        "libstdc++.so.6",
        "libglib-2.0.so.0",
        "libGL.so.1",
    ],
)
def test_bundle_drops(dest):
    assert not freeze.keep_entry(dest)


def test_excluded_modules_cover_the_scale_out_extras_and_unused_qt():
    excluded = set(freeze.EXCLUDED_MODULES)
    assert {"boto3", "botocore", "psycopg", "redis", "uvloop", "tkinter"} <= excluded
    assert {"PySide6.QtQml", "PySide6.QtQuick", "PySide6.QtPdf"} <= excluded
    # what the app and the self-test need must never be excluded
    assert not excluded & {"PySide6.QtNetwork", "PySide6.QtSvg", "certifi", "PIL.WebPImagePlugin"}


def test_prune_keeps_only_libraries_reachable_from_extensions_and_plugins():
    toc = [
        ("PySide6/QtGui.abi3.so", "/s/QtGui.abi3.so", "EXTENSION"),
        ("PySide6/Qt/lib/libQt6Gui.so.6", "/s/libQt6Gui.so.6", "BINARY"),
        ("libQt6Gui.so.6", "PySide6/Qt/lib/libQt6Gui.so.6", "SYMLINK"),
        ("PySide6/Qt/plugins/platforms/libqxcb.so", "/s/libqxcb.so", "BINARY"),
        ("libxcb-cursor.so.0", "/s/libxcb-cursor.so.0", "BINARY"),
        # left behind by the dropped gtk3 theme plugin:
        ("libgtk-3.so.0", "/s/libgtk-3.so.0", "BINARY"),
        ("libcairo.so.2", "/s/libcairo.so.2", "BINARY"),
        ("PySide6/Qt/lib/libQt6Pdf.so.6", "/s/libQt6Pdf.so.6", "BINARY"),
    ]
    needs = {
        "/s/QtGui.abi3.so": ["libQt6Gui.so.6"],
        "/s/libqxcb.so": ["libQt6Gui.so.6", "libxcb-cursor.so.0"],
        "/s/libgtk-3.so.0": ["libcairo.so.2"],
    }
    kept, dropped = freeze.prune_unreferenced(toc, lambda src: needs.get(src, []))
    assert {e[0] for e in dropped} == {
        "libgtk-3.so.0",
        "libcairo.so.2",
        "PySide6/Qt/lib/libQt6Pdf.so.6",
    }
    assert ("libQt6Gui.so.6", "PySide6/Qt/lib/libQt6Gui.so.6", "SYMLINK") in kept


def test_icu_data_is_found_in_the_library_by_its_symbol():
    import PySide6

    libraries = sorted((Path(PySide6.__file__).parent / "Qt" / "lib").glob("libicudata.so.*"))
    if not libraries:
        pytest.skip("this Qt has no ICU of its own (Windows, macOS)")
    version = libraries[0].name.rsplit(".", 1)[1]
    data = freeze.elf_symbol_bytes(libraries[0], f"icudt{version}_dat")
    assert data[2:4] == b"\xda\x27"  # ICU common data header magic
    assert len(data) > 10 * 2**20
    with pytest.raises(KeyError):
        freeze.elf_symbol_bytes(libraries[0], "no_such_symbol")


def test_datas_ship_assets_templates_static_files_and_migrations():
    dests = {(Path(src).name, dest) for src, dest in freeze.asset_datas()}
    assert ("picdrop.svg", "assets/icons") in dests
    assert ("tray-light.svg", "assets/icons/tray") in dests
    assert ("camera.jpg", "assets/samples") in dests
    assert ("env.py", "backend/catalog/migrations") in dests
    assert ("0001_initial.py", "backend/catalog/migrations/versions") in dests
    assert ("viewer.html", "backend/http/templates") in dests
    assert ("picdrop.css", "backend/http/static") in dests
    names = {name for name, _dest in dests}
    assert not {"make_samples.py", "picdrop.ico", "picdrop.icns"} & names


def test_macos_info_plist_is_tray_friendly_and_hidpi():
    plist = freeze.info_plist(freeze.app_metadata())
    assert plist["NSHighResolutionCapable"] is True
    assert plist["LSUIElement"] is False
    assert plist["CFBundleIdentifier"] == desktop.APP_ID
    assert plist["CFBundleShortVersionString"] == desktop.__version__
    types = {t for doc in plist["CFBundleDocumentTypes"] for t in doc["LSItemContentTypes"]}
    assert {"public.jpeg", "public.png", "com.compuserve.gif", "org.webmproject.webp"} == types


# -- icons ----------------------------------------------------------------------------------------
def test_rendered_icons_are_current():
    """The committed PNG/ICO/ICNS/tray files match a fresh render of assets/icons/picdrop.svg
    (run `python -m desktop.tools.render_icons` after changing the SVG)."""
    assert render_icons.check(render_icons.expected_files()) == []


def test_icon_files_have_the_right_sizes():
    for size in render_icons.APP_SIZES:
        with Image.open(render_icons.APP_DIR / f"picdrop-{size}.png") as image:
            assert image.size == (size, size) and image.mode == "RGBA"
    with Image.open(render_icons.APP_DIR / "picdrop.ico") as ico:
        assert {s[0] for s in ico.info["sizes"]} == set(render_icons.ICO_SIZES)
    with Image.open(render_icons.APP_DIR / "picdrop.icns") as icns:
        pixel_sizes = {w * scale for w, _h, scale in icns.info["sizes"]}
        # Pillow writes the retina slots (16@2x = 32 px...) and 128–1024; macOS scales for 16 px
        assert pixel_sizes == {32, 64, 128, 256, 512, 1024}
    for variant in render_icons.TRAY_VARIANTS:
        for size in render_icons.TRAY_SIZES:
            path = render_icons.TRAY_DIR / f"tray-{variant}-{size}.png"
            with Image.open(path) as image:
                assert image.size == (size, size)
                assert image.getextrema()[3][0] == 0  # transparent background


def test_tray_variants_differ_in_the_way_their_names_say():
    def opaque_pixels(name: str) -> list[bytes]:
        with Image.open(render_icons.TRAY_DIR / name) as image:
            data = image.convert("RGBA").tobytes()
        pixels = [data[i : i + 4] for i in range(0, len(data), 4)]
        return [p for p in pixels if p[3] > 200]

    def mean_rgb(name: str) -> float:
        opaque = opaque_pixels(name)
        return sum(p[0] + p[1] + p[2] for p in opaque) / (3 * len(opaque))

    assert mean_rgb("tray-light-32.png") > 200  # light glyph for dark panels
    assert mean_rgb("tray-dark-32.png") < 80  # dark glyph for light panels
    assert any(p[2] > p[0] + 60 for p in opaque_pixels("tray-busy-32.png"))  # the blue badge


# -- the self-test ------------------------------------------------------------------------------
def test_self_test_passes_from_source(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "desktop", "--self-test"],
        cwd=REPO,
        env=source_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "self-test (source" in result.stdout
    assert "self-test passed" in result.stdout
    for check in ("server", "upload", "fetch", "metadata", "qt platforms", "image formats"):
        assert f"ok    {check}" in result.stdout


def test_self_test_fails_and_says_why_when_assets_are_missing(monkeypatch, tmp_path):
    import desktop.assets

    monkeypatch.setattr(desktop.assets, "assets_root", lambda: tmp_path / "nothing")
    out = io.StringIO()
    assert selftest.run(out) == 1
    text = out.getvalue()
    assert "FAIL  assets" in text and "missing asset" in text
    assert "self-test FAILED" in text


def test_self_test_tells_system_libraries_from_bundle_damage():
    missing = selftest._missing_library(
        "Cannot load library /a/libqxcb.so: (libxcb-cursor.so.0: cannot open shared object file:"
        " No such file or directory)"
    )
    assert missing == "libxcb-cursor.so.0"
    assert selftest._missing_library("The plugin uses incompatible Qt library") is None


def test_self_test_runs_offscreen_without_a_display():
    assert selftest.choose_qt_platform({}) == (
        "offscreen" if sys.platform.startswith("linux") else None
    )
    assert selftest.choose_qt_platform({"DISPLAY": ":0"}) is None
    assert selftest.choose_qt_platform({"QT_QPA_PLATFORM": "xcb"}) is None


# -- Linux desktop entry ------------------------------------------------------------------------
def check_entry(path: Path, exec_path: str) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys are case-sensitive
    parser.read(path, encoding="utf-8")
    entry = parser["Desktop Entry"]
    assert entry["Exec"] in (f"{exec_path} %F", f'"{exec_path}" %F')
    assert entry["Icon"] == desktop.APP_ID
    assert set(entry["MimeType"].rstrip(";").split(";")) == {
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/webp",
    }
    validate = require_program("desktop-file-validate")
    result = subprocess.run([validate, str(path)], capture_output=True, text=True)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout
    return entry


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG desktop entries")
def test_make_install_desktop_writes_entry_and_icons_into_xdg_data_home(tmp_path):
    make = require_program("make")
    program = tmp_path / "opt dir" / "picdrop"
    program.parent.mkdir()
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    data = tmp_path / "xdg-data"
    result = subprocess.run(
        # the environment the tests run in stands in for .venv (-o: do not reinstall it)
        [
            make,
            "-o",
            ".venv/.installed",
            "install-desktop",
            f"BIN={Path(sys.executable).parent}",
            f"EXEC={program}",
        ],
        cwd=REPO,
        env={**source_env(tmp_path), "XDG_DATA_HOME": str(data)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    entry = data / "applications" / f"{desktop.APP_ID}.desktop"
    check_entry(entry, str(program))
    for size in linux_package.ICON_SIZES:
        icon = data / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{desktop.APP_ID}.png"
        with Image.open(icon) as image:
            assert image.size == (size, size)
    assert (data / "icons/hicolor/scalable/apps" / f"{desktop.APP_ID}.svg").is_file()
    removed = linux_package.uninstall(data)
    assert entry in removed and not entry.exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG desktop entries")
def test_tarball_install_script_installs_the_unpacked_copy(tmp_path):
    require_program("sh")
    copy = tmp_path / "picdrop-0.1.0"
    icons = copy / "_internal" / "assets" / "icons" / "app"
    icons.mkdir(parents=True)
    for size in linux_package.ICON_SIZES:
        (icons / f"picdrop-{size}.png").write_bytes(
            (render_icons.APP_DIR / f"picdrop-{size}.png").read_bytes()
        )
    (copy / "picdrop").write_text("#!/bin/sh\n")
    (copy / "picdrop").chmod(0o755)
    script = copy / "install-desktop.sh"
    script.write_text(linux_package.install_script())
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    data = tmp_path / "data"
    result = subprocess.run(
        ["sh", str(script)],
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), "XDG_DATA_HOME": str(data)},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    check_entry(data / "applications" / f"{desktop.APP_ID}.desktop", str(copy / "picdrop"))
    assert (data / "icons/hicolor/48x48/apps" / f"{desktop.APP_ID}.png").is_file()


def test_data_home_follows_xdg_rules():
    assert linux_package.data_home({"XDG_DATA_HOME": "/x/d", "HOME": "/h"}) == Path("/x/d")
    assert linux_package.data_home({"XDG_DATA_HOME": "rel", "HOME": "/h"}) == Path(
        "/h/.local/share"
    )
