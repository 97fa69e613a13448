"""The packaged app, built for real: PyInstaller runs build.spec into a temporary directory (from
the checkout as it is, so CI proves a clean checkout builds), then the frozen `picdrop --self-test`
must pass offscreen, a damaged copy of the bundle must fail it, and the frozen GUI must show its
window under Xvfb (screenshot).

The slowest tests of the suite (the build takes about a minute on two cores); deselect with
`-m "not packaging"`. `FROZEN_PICDROP=dist/picdrop` tests an existing one-folder build instead of
building one. `UPDATE_SCREENSHOTS=1` writes the window's screenshot to docs/screenshots/.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest
from PIL import Image

import desktop
from desktop.tools import freeze, gui_probe, linux_package
from tests.conftest import REQUIRE_ALL, optional_program, require, require_program

REPO = Path(__file__).resolve().parents[2]
LINUX = sys.platform.startswith("linux")
EXE = "picdrop.exe" if sys.platform == "win32" else "picdrop"
# A ceiling that catches a regression (a Qt module or a GTK stack creeping back in); the measured
# size and the 80 MB goal are discussed in docs/PACKAGING.md. pillow-heif's libraries (~26 MB,
# libheif and its decoders: HEIC/HEIF photos converted on the client) raised it from 125.
SIZE_BUDGET_MB = 150

pytestmark = [pytest.mark.packaging, pytest.mark.timeout(1200)]


def folder_size(path: Path) -> int:
    return sum(p.lstat().st_size for p in path.rglob("*") if not p.is_dir())


@pytest.fixture(scope="module")
def frozen_app(tmp_path_factory) -> Path:
    """The one-folder build's directory (holding the `picdrop` executable)."""
    existing = os.environ.get("FROZEN_PICDROP")
    if existing:
        return Path(existing).resolve()
    require(importlib.util.find_spec("PyInstaller") is not None, "PyInstaller")
    out = tmp_path_factory.mktemp("pyinstaller")
    started = time.monotonic()
    result = subprocess.run(
        [
            *(sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN"),
            *("--workpath", str(out / "build"), "--distpath", str(out / "dist")),
            str(REPO / "build.spec"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1100,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
    print(f"PyInstaller built the one-folder app in {time.monotonic() - started:.0f} s")
    return out / "dist" / desktop.APP_NAME


def run_self_test(folder: Path, home: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(folder / EXE), "--self-test"],
        env=gui_probe.app_env(home, display=None),
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_frozen_self_test_passes_offscreen(frozen_app, tmp_path):
    result = run_self_test(frozen_app, tmp_path)
    print(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"picdrop {desktop.__version__} self-test (frozen" in result.stdout
    assert "self-test passed" in result.stdout
    for check in ("assets", "backend data", "server", "upload", "fetch", "metadata", "pages"):
        assert f"ok    {check}" in result.stdout
    for check in ("qt platforms", "image formats", "qt text", "tls (python)", "tls (qt)"):
        assert f"ok    {check}" in result.stdout


def damaged_copy(src: Path, dst: Path) -> Path:
    """A copy of the bundle made of hard links (no data copied) that a test may damage."""

    def link(source: str, target: str) -> None:
        try:
            os.link(source, target)
        except OSError:
            shutil.copy2(source, target)

    shutil.copytree(src, dst, symlinks=True, copy_function=link)
    return dst


@pytest.mark.skipif(not LINUX, reason="plugin file names are the Linux ones")
@pytest.mark.parametrize(
    ("remove", "failing_check"),
    [
        ("PySide6/Qt/plugins/imageformats/libqwebp.so", "image formats"),
        ("PySide6/Qt/plugins/platforms/libqxcb.so", "qt platforms"),
        ("PySide6/Qt/plugins/tls/libqopensslbackend.so", "tls (qt)"),
        ("assets/samples/camera.jpg", "assets"),
        ("backend/catalog/migrations/versions/0001_initial.py", "backend data"),
        ("certifi/cacert.pem", "tls (python)"),
    ],
)
def test_a_broken_bundle_fails_the_self_test(frozen_app, tmp_path, remove, failing_check):
    copy = damaged_copy(frozen_app, tmp_path / "bundle")
    (copy / "_internal" / remove).unlink()
    result = run_self_test(copy, tmp_path / "home")
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"FAIL  {failing_check}" in result.stdout, result.stdout
    assert "self-test FAILED" in result.stdout


@pytest.mark.skipif(not LINUX, reason="Linux bundle layout")
def test_bundle_contents_and_size(frozen_app):
    internal = frozen_app / "_internal"
    plugins = internal / "PySide6" / "Qt" / "plugins"
    present = {str(p.relative_to(plugins)) for p in plugins.rglob("*.so")}
    for required in (
        "platforms/libqxcb.so",
        "platforms/libqwayland.so",
        "platforms/libqoffscreen.so",
        "wayland-shell-integration/libxdg-shell.so",
        "imageformats/libqjpeg.so",
        "imageformats/libqgif.so",
        "imageformats/libqwebp.so",
        "imageformats/libqsvg.so",
        "iconengines/libqsvgicon.so",
        "tls/libqopensslbackend.so",
        "platformthemes/libqxdgdesktopportal.so",
    ):
        assert required in present
    assert all(freeze.keep_entry(f"PySide6/Qt/plugins/{p}") for p in present)
    names = {p.name for p in internal.rglob("*")}
    assert "libQt6DBus.so.6" in names  # the tray speaks StatusNotifierItem over D-Bus
    assert not {n for n in names if n.endswith(".qm")}  # no Qt translations
    for unwanted in ("libQt6Quick.so.6", "libQt6Qml.so.6", "libQt6Pdf.so.6", "libgtk-3.so.0"):
        assert unwanted not in names
    for package in ("boto3", "botocore", "psycopg", "redis", "uvloop", "tkinter"):
        assert not (internal / package).exists()
    icu = next(internal.rglob("libicudata.so.*"))
    if all(shutil.which(tool) for tool in freeze.ICU_TOOLS) or REQUIRE_ALL:
        # the build trimmed ICU's data (freeze.slim_icu_data): 31 MiB whole, ~16 MiB trimmed
        assert icu.stat().st_size < 20 * 2**20, f"{icu} was not trimmed"
    size_mb = folder_size(frozen_app) / 2**20
    print(f"one-folder build: {size_mb:.1f} MiB")
    assert size_mb < SIZE_BUDGET_MB


@pytest.mark.skipif(not LINUX, reason="the tarball is the Linux download")
def test_linux_tarball_is_an_appdir_with_the_app(frozen_app, tmp_path):
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / desktop.APP_NAME).symlink_to(frozen_app, target_is_directory=True)
    out = linux_package.tarball(dist)
    assert out.name == f"picdrop-{desktop.__version__}-linux-x86_64.tar.gz"
    top = f"picdrop-{desktop.__version__}"
    with tarfile.open(out) as tar:
        members = {m.name: m for m in tar.getmembers()}
    for name in ("picdrop", "AppRun", "install-desktop.sh", f"{desktop.APP_ID}.desktop"):
        assert f"{top}/{name}" in members
        if name != f"{desktop.APP_ID}.desktop":
            assert members[f"{top}/{name}"].mode & 0o111
    assert f"{top}/{desktop.APP_ID}.png" in members
    assert f"{top}/_internal/assets/samples/camera.jpg" in members


@pytest.mark.skipif(not LINUX, reason="AppImages are Linux programs")
def test_the_appdir_becomes_an_appimage_that_self_tests(frozen_app, tmp_path):
    appimagetool = optional_program("appimagetool", "see docs/PACKAGING.md, AppImage")
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / desktop.APP_NAME).symlink_to(frozen_app, target_is_directory=True)
    out = linux_package.appimage(linux_package.tarball(dist), appimagetool)
    assert out.name == f"picdrop-{desktop.__version__}-x86_64.AppImage"
    assert out.read_bytes()[:4] == b"\x7fELF" and os.access(out, os.X_OK)
    home = tmp_path / "home"
    home.mkdir()
    done = subprocess.run(
        [str(out), "--self-test"],
        env={**gui_probe.app_env(home, display=None), "APPIMAGE_EXTRACT_AND_RUN": "1"},  # no FUSE
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.xvfb
@pytest.mark.skipif(not LINUX, reason="Xvfb")
def test_frozen_gui_shows_its_window_under_xvfb(frozen_app, tmp_path):
    for tool in gui_probe.TOOLS:
        require_program(tool)
    home = tmp_path / "home"
    with gui_probe.xvfb() as display:
        launch = gui_probe.launch_until_window(
            [str(frozen_app / EXE)], gui_probe.app_env(home, display), display, timeout=90
        )
        try:
            time.sleep(1.0)  # let the first paint land before the grab
            title = subprocess.run(
                ["xdotool", "getwindowname", launch.window],
                env={**os.environ, "DISPLAY": display},
                capture_output=True,
                text=True,
            ).stdout.strip()
            shot = gui_probe.screenshot(launch.window, display, tmp_path / "frozen.png")
        finally:
            status = launch.stop()
    print(f"frozen window after {launch.seconds:.2f} s (first start); screenshot {shot}")
    if launch.retries:
        print(f"({launch.retries} start(s) could not reach Xvfb and were repeated)")
    assert title == desktop.APP_DISPLAY_NAME
    assert status == 0  # quits cleanly on SIGINT, like Ctrl+C in its terminal
    with Image.open(shot) as image:
        assert image.width >= 600 and image.height >= 400
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
        assert colours is not None and len(colours) > 200  # text, icons, the gradient logo
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        shutil.copyfile(shot, REPO / "docs" / "screenshots" / "frozen-main-window.png")
