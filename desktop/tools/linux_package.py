"""Linux integration: the desktop entry, its installation into the user's XDG directories, and
the release tarball of the one-folder build (laid out as an AppDir).

    python -m desktop.tools.linux_package install [--exec PATH]    # make install-desktop
    python -m desktop.tools.linux_package uninstall
    python -m desktop.tools.linux_package tarball [--dist dist]     # part of make dist
    python -m desktop.tools.linux_package appimage [--dist dist]    # needs appimagetool

`install` writes `$XDG_DATA_HOME/applications/org.picdrop.Picdrop.desktop` (an "Open with" entry
for JPEG, PNG, GIF and WebP), the app icon into `$XDG_DATA_HOME/icons/hicolor/` (PNG 16–512
and the SVG) and the AppStream metainfo into `$XDG_DATA_HOME/metainfo/`, then refreshes the
desktop and icon caches when their tools exist. The entry's file name and icon name are the app
id, which is also the app's Wayland app_id (`QGuiApplication.setDesktopFileName`), so compositors
match the window to its icon.

The tarball `dist/picdrop-VERSION-linux-x86_64.tar.gz` holds `picdrop-VERSION/` = the one-folder
build plus `AppRun`, the desktop entry, the icon and the AppStream metainfo (an AppDir:
`appimagetool` turns the folder into an AppImage where it is available) and `install-desktop.sh`,
which installs the entry (and the metainfo) for the unpacked copy. `appimage` unpacks that tarball
and runs `appimagetool` on it: `dist/picdrop-VERSION-x86_64.AppImage` (docs/PACKAGING.md says
where to get appimagetool; it is not in Debian).
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

from desktop import APP_DISPLAY_NAME, APP_ID, APP_NAME, DESKTOP_CATEGORIES, __version__

REPO = Path(__file__).resolve().parents[2]
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
MIME_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")


def data_home(environ: os._Environ | dict[str, str] = os.environ) -> Path:
    """$XDG_DATA_HOME, or ~/.local/share (the XDG base directory default)."""
    value = environ.get("XDG_DATA_HOME", "")
    if value and Path(value).is_absolute():
        return Path(value)
    return Path(environ.get("HOME", str(Path.home()))) / ".local" / "share"


# AppStream metainfo (software centres): assets/linux/, installed into $XDG_DATA_HOME/metainfo.
METAINFO = f"{APP_ID}.metainfo.xml"


def desktop_entry(exec_command: str, try_exec: str | None = None, icon: str = APP_ID) -> str:
    """The .desktop file: `exec_command` is the program as the Exec key wants it (quoted when
    needed, the files follow), `try_exec` its plain path (the entry hides when it is gone)."""
    try_exec = [f"TryExec={try_exec}"] if try_exec else []
    return "\n".join(
        [
            "[Desktop Entry]",
            "Type=Application",
            "Version=1.4",
            f"Name={APP_DISPLAY_NAME}",
            "GenericName=Image Sharing",
            "Comment=Drop an image, get a short link on the clipboard",
            f"Exec={exec_command} %F",
            *try_exec,
            f"Icon={icon}",
            "Terminal=false",
            f"Categories={DESKTOP_CATEGORIES}",
            "Keywords=upload;share;image;screenshot;link;anonymous;",
            f"MimeType={';'.join(MIME_TYPES)};",
            f"StartupWMClass={APP_NAME}",
            "StartupNotify=true",
            "",
        ]
    )


def _exec_quote(path: str) -> str:
    """Quote a path for an Exec key (desktop entry spec: double quotes, escape ` $ \\ ")."""
    if all(c.isalnum() or c in "/._-+" for c in path):
        return path
    escaped = "".join("\\" + c if c in '"`$\\' else c for c in path)
    return f'"{escaped}"'


def icon_sources(root: Path) -> tuple[dict[int, Path], Path]:
    """The PNG renders by size and the SVG, from an `assets/` folder (repo or bundle)."""
    icons = root / "icons"
    pngs = {size: icons / "app" / f"picdrop-{size}.png" for size in ICON_SIZES}
    return pngs, icons / "picdrop.svg"


def default_exec() -> Path:
    """The frozen build if `make dist` made one, else the `picdrop` of this environment."""
    frozen = REPO / "dist" / APP_NAME / APP_NAME
    if frozen.is_file():
        return frozen
    found = shutil.which(APP_NAME) or str(Path(sys.executable).parent / APP_NAME)
    return Path(found)


def install(
    exec_path: Path, target: Path | None = None, assets: Path = REPO / "assets"
) -> list[Path]:
    """Install the desktop entry and icons under `target` (default: $XDG_DATA_HOME)."""
    target = target or data_home()
    pngs, svg = icon_sources(assets)
    written = []
    for size, source in pngs.items():
        dest = target / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png"
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, dest)
        written.append(dest)
    dest = target / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg"
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(svg, dest)
    written.append(dest)
    entry = target / "applications" / f"{APP_ID}.desktop"
    entry.parent.mkdir(parents=True, exist_ok=True)
    program = str(exec_path.resolve())
    entry.write_text(desktop_entry(_exec_quote(program), program), encoding="utf-8")
    written.append(entry)
    metainfo = target / "metainfo" / METAINFO
    metainfo.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(assets / "linux" / METAINFO, metainfo)
    written.append(metainfo)
    _refresh_caches(target)
    return written


def uninstall(target: Path | None = None) -> list[Path]:
    target = target or data_home()
    removed = []
    candidates = [target / "applications" / f"{APP_ID}.desktop", target / "metainfo" / METAINFO]
    candidates += [
        target / "icons" / "hicolor" / f"{s}x{s}" / "apps" / f"{APP_ID}.png" for s in ICON_SIZES
    ]
    candidates.append(target / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg")
    for path in candidates:
        if path.exists():
            path.unlink()
            removed.append(path)
    _refresh_caches(target)
    return removed


def _refresh_caches(target: Path) -> None:
    """Best effort: desktops also notice new files on their own, just later."""
    for command in (
        ["update-desktop-database", "-q", str(target / "applications")],
        ["gtk-update-icon-cache", "-q", "-t", "-f", str(target / "icons" / "hicolor")],
    ):
        if shutil.which(command[0]):
            subprocess.run(command, check=False, capture_output=True)


INSTALL_SCRIPT = """#!/bin/sh
# Adds picdrop to the applications menu ("Open with" for images) for this user, running the copy
# in this folder. Remove with: rm "$DATA/applications/{app_id}.desktop" and the icons it lists.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
DATA=${{XDG_DATA_HOME:-$HOME/.local/share}}
for size in {sizes}; do
    mkdir -p "$DATA/icons/hicolor/${{size}}x${{size}}/apps"
    cp "$HERE/_internal/assets/icons/app/picdrop-$size.png" \\
        "$DATA/icons/hicolor/${{size}}x${{size}}/apps/{app_id}.png"
done
mkdir -p "$DATA/applications"
sed "s|@EXEC@|\\"$HERE/{name}\\"|g" > "$DATA/applications/{app_id}.desktop" <<'EOF'
{entry}EOF
if [ -f "$HERE/_internal/assets/linux/{metainfo}" ]; then
    mkdir -p "$DATA/metainfo"
    cp "$HERE/_internal/assets/linux/{metainfo}" "$DATA/metainfo/{metainfo}"
fi
if command -v update-desktop-database >/dev/null; then
    update-desktop-database -q "$DATA/applications" || true
fi
echo "installed $DATA/applications/{app_id}.desktop"
"""


def install_script() -> str:
    """`install-desktop.sh` for the tarball: installs the entry for the copy it sits in."""
    return INSTALL_SCRIPT.format(
        app_id=APP_ID,
        name=APP_NAME,
        sizes=" ".join(map(str, ICON_SIZES)),
        entry=desktop_entry("@EXEC@"),
        metainfo=METAINFO,
    )


def tarball(dist: Path = REPO / "dist") -> Path:
    """`dist/picdrop-VERSION-linux-ARCH.tar.gz` from the one-folder build in `dist/picdrop`."""
    folder = (dist / APP_NAME).resolve()
    program = folder / APP_NAME
    if not program.is_file():
        raise SystemExit(f"{program} is missing: build it first (make dist)")
    arch = platform.machine() or "x86_64"
    top = f"{APP_NAME}-{__version__}"
    out = dist / f"{APP_NAME}-{__version__}-linux-{arch}.tar.gz"
    pngs, _svg = icon_sources(folder / "_internal" / "assets")
    extras = {
        "AppRun": (f'#!/bin/sh\nexec "$(dirname "$(readlink -f "$0")")/{APP_NAME}" "$@"\n', 0o755),
        f"{APP_ID}.desktop": (desktop_entry(APP_NAME), 0o644),
        "install-desktop.sh": (install_script(), 0o755),
    }

    def add_text(tar: tarfile.TarFile, name: str, text: str, mode: int) -> None:
        data = text.encode()
        info = tarfile.TarInfo(f"{top}/{name}")
        info.size, info.mode = len(data), mode
        info.mtime = int(program.stat().st_mtime)
        tar.addfile(info, io.BytesIO(data))

    tmp = out.with_suffix(".tmp")
    with tarfile.open(tmp, "w:gz", compresslevel=6) as tar:
        tar.add(folder, arcname=top)
        for name, (text, mode) in extras.items():
            add_text(tar, name, text, mode)
        tar.add(pngs[256], arcname=f"{top}/{APP_ID}.png")
        tar.add(pngs[256], arcname=f"{top}/.DirIcon")
        # where appimagetool and software centres look for it in an AppDir
        metainfo = folder / "_internal" / "assets" / "linux" / METAINFO
        tar.add(metainfo, arcname=f"{top}/usr/share/metainfo/{METAINFO}")
    tmp.replace(out)
    return out


def appimage(tarball_path: Path, appimagetool: str = "appimagetool") -> Path:
    """The AppImage of the AppDir in `tarball_path`, written beside it."""
    arch = platform.machine() or "x86_64"
    out = tarball_path.parent / f"{APP_NAME}-{__version__}-{arch}.AppImage"
    work = tarball_path.parent / "appimage-build"
    shutil.rmtree(work, ignore_errors=True)
    with tarfile.open(tarball_path) as tar:
        tar.extractall(work, filter="tar")
    subprocess.run(
        [appimagetool, "--no-appstream", str(work / f"{APP_NAME}-{__version__}"), str(out)],
        check=True,
        env={**os.environ, "ARCH": arch, "APPIMAGE_EXTRACT_AND_RUN": "1"},  # no FUSE needed
    )
    shutil.rmtree(work)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_install = sub.add_parser("install", help="install the desktop entry and icons")
    p_install.add_argument("--exec", type=Path, dest="exec_path", help="the program to run")
    sub.add_parser("uninstall", help="remove them again")
    p_tar = sub.add_parser("tarball", help="pack the one-folder build")
    p_tar.add_argument("--dist", type=Path, default=REPO / "dist")
    p_image = sub.add_parser("appimage", help="the tarball's AppDir as an AppImage (appimagetool)")
    p_image.add_argument("--dist", type=Path, default=REPO / "dist")
    args = parser.parse_args(argv)
    if args.command == "install":
        exec_path = args.exec_path or default_exec()
        for path in install(exec_path):
            print(path)
        print(f"runs {exec_path}")
    elif args.command == "uninstall":
        for path in uninstall():
            print(f"removed {path}")
    else:
        out = tarball(args.dist)
        if args.command == "appimage":
            out = appimage(out)
        print(f"{out} ({out.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
