"""Render every icon file from the one SVG source, `assets/icons/picdrop.svg`.

    python -m desktop.tools.render_icons [--check]

Writes (and commits, so a build needs no SVG renderer):
- `assets/icons/app/picdrop-{16..512}.png`: the app icon for Linux (hicolor theme, window icon);
- `assets/icons/app/picdrop.ico` (Windows executable) and `assets/icons/app/picdrop.icns` (macOS
  bundle), written by Pillow from the PNG renders (16–256 in the ICO; 32–1024 px in the ICNS,
  whose 16 and 32 pt slots are the retina ones);
- `assets/icons/tray/tray-{light,dark,busy}.svg`: monochrome tray glyphs made from the drop in the
  app icon (light glyph for dark panels, dark glyph for light panels, busy = light glyph with an
  upload badge), and their PNGs at the sizes trays ask for (16, 22, 24, 32, 48, 64).

`--check` renders into memory and compares with the committed files (exit 1 if one is missing,
has the wrong size, or differs visibly): the SVG changed but nobody re-rendered.
Qt's SVG renderer (QtSvg, offscreen) draws the PNGs; Pillow writes ICO and ICNS.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import sys
from pathlib import Path

ICONS = Path(__file__).resolve().parents[2] / "assets" / "icons"
SOURCE = ICONS / "picdrop.svg"
APP_DIR = ICONS / "app"
TRAY_DIR = ICONS / "tray"
APP_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
ICNS_SIZES = (16, 32, 64, 128, 256, 512, 1024)
TRAY_SIZES = (16, 22, 24, 32, 48, 64)
TRAY_VARIANTS = ("light", "dark", "busy")
TRAY_COLORS = {"light": "#f4f6fb", "dark": "#23262d", "busy": "#f4f6fb"}
# Largest mean per-channel difference (0–255) tolerated between a committed PNG and a fresh render:
# absorbs anti-aliasing differences between Qt versions, catches any real change of the drawing.
TOLERANCE = 2.0


def drop_path(svg: str) -> str:
    """The drop's outline in the app icon (the first <path> element)."""
    match = re.search(r'<path d="([^"]+)"', svg)
    if match is None:
        raise ValueError(f"no <path> in {SOURCE}")
    return " ".join(match.group(1).split())


def tray_svg(variant: str, source: str) -> str:
    """A tray glyph: the app icon's drop, filled in one colour, with the picture inside cut out
    and the sun (even-odd), on a transparent background; `busy` adds an upload arrow badge."""
    color = TRAY_COLORS[variant]
    drop = drop_path(source)
    # The picture's mountains, cut out of the drop so the glyph still reads as "a picture".
    hole = "M152 364 L214 296 L262 346 L296 312 L360 378 A124 124 0 0 1 152 364 Z"
    sun = "M276 262 A24 24 0 1 0 324 262 A24 24 0 1 0 276 262 Z"
    parts = [
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="64 64 384 384">',
        f'  <path fill-rule="evenodd" fill="{color}" d="{drop} {hole} {sun}"/>',
    ]
    if variant == "busy":
        parts += [
            '  <circle cx="372" cy="372" r="76" fill="#4f8cff"/>',
            '  <path d="M372 412 V336 M340 366 L372 334 L404 366" fill="none" stroke="#ffffff"'
            ' stroke-width="20" stroke-linecap="round" stroke-linejoin="round"/>',
        ]
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _qt_app():
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    return QGuiApplication.instance() or QGuiApplication([sys.argv[0]])


def render_png(svg: str, size: int) -> bytes:
    """The SVG drawn at size x size, anti-aliased, on transparency, as PNG bytes."""
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QRectF, Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _qt_app()
    renderer = QSvgRenderer(QByteArray(svg.encode()))
    if not renderer.isValid():
        raise ValueError("invalid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    return bytes(buffer.data())


def expected_files() -> dict[Path, bytes]:
    """Every generated file and its content, rendered now from the SVG source."""
    from PIL import Image

    source = SOURCE.read_text(encoding="utf-8")
    files: dict[Path, bytes] = {}
    renders = {size: render_png(source, size) for size in {*APP_SIZES, *ICNS_SIZES}}
    for size in APP_SIZES:
        files[APP_DIR / f"picdrop-{size}.png"] = renders[size]

    def pil(size: int) -> Image.Image:
        return Image.open(io.BytesIO(renders[size])).convert("RGBA")

    ico = io.BytesIO()
    largest = pil(max(ICO_SIZES))
    largest.save(
        ico,
        "ICO",
        sizes=[(s, s) for s in ICO_SIZES],
        append_images=[pil(s) for s in ICO_SIZES if s != max(ICO_SIZES)],
    )
    files[APP_DIR / "picdrop.ico"] = ico.getvalue()
    icns = io.BytesIO()
    pil(max(ICNS_SIZES)).save(
        icns, "ICNS", append_images=[pil(s) for s in ICNS_SIZES if s != max(ICNS_SIZES)]
    )
    files[APP_DIR / "picdrop.icns"] = icns.getvalue()
    for variant in TRAY_VARIANTS:
        svg = tray_svg(variant, source)
        files[TRAY_DIR / f"tray-{variant}.svg"] = svg.encode()
        for size in TRAY_SIZES:
            files[TRAY_DIR / f"tray-{variant}-{size}.png"] = render_png(svg, size)
    return files


def _difference(a: bytes, b: bytes) -> float | None:
    """Mean absolute per-channel difference of two images, None if their sizes differ."""
    from PIL import Image, ImageChops, ImageStat

    first = Image.open(io.BytesIO(a)).convert("RGBA")
    second = Image.open(io.BytesIO(b)).convert("RGBA")
    if first.size != second.size:
        return None
    return sum(ImageStat.Stat(ImageChops.difference(first, second)).mean) / 4


def check(files: dict[Path, bytes]) -> list[str]:
    """Problems with the committed files, compared with a fresh render (empty: all current)."""
    problems = []
    for path, content in files.items():
        name = path.relative_to(ICONS)
        if not path.exists():
            problems.append(f"{name}: missing")
        elif path.suffix == ".svg":
            if path.read_bytes() != content:
                problems.append(f"{name}: differs from the generated glyph")
        elif path.suffix == ".png":
            diff = _difference(path.read_bytes(), content)
            if diff is None:
                problems.append(f"{name}: wrong size")
            elif diff > TOLERANCE:
                problems.append(f"{name}: differs from a fresh render (mean diff {diff:.1f})")
        else:  # .ico / .icns: same set of sizes, each close to the render
            problems += [f"{name}: {p}" for p in _check_container(path, content)]
    return problems


def _check_container(path: Path, expected: bytes) -> list[str]:
    """An ICO or ICNS: the same frames (sizes) as a fresh one, and its main frame alike."""
    from PIL import Image

    with (
        Image.open(io.BytesIO(path.read_bytes())) as have,
        Image.open(io.BytesIO(expected)) as want,
    ):
        have_sizes = sorted(have.info.get("sizes", []))
        want_sizes = sorted(want.info.get("sizes", []))
        if have_sizes != want_sizes:
            return [f"frames {have_sizes}, expected {want_sizes}"]
        size = have.size[0]
        have_png, want_png = _png(have), _png(want)
    diff = _difference(have_png, want_png)
    if diff is None or diff > TOLERANCE:
        return [f"{size} px frame differs from a fresh render"]
    return []


def _png(image) -> bytes:
    out = io.BytesIO()
    image.convert("RGBA").save(out, "PNG")
    return out.getvalue()


def write(files: dict[Path, bytes]) -> None:
    for path, content in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        print(path.relative_to(ICONS.parent.parent))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    files = expected_files()
    if args.check:
        problems = check(files)
        for problem in problems:
            print(problem, file=sys.stderr)
        print(f"{len(files)} icon files, {len(problems)} out of date")
        return 1 if problems else 0
    write(files)
    return 0


if __name__ == "__main__":
    sys.exit(main())
