"""The tray icon's pictures: the glyph for light or dark panels, and the same glyph inside a
progress ring while uploads run. Rendered from SVG at every size a tray asks for, so it stays sharp
at any DPI.
"""

from __future__ import annotations

import sys
from functools import cache

from PySide6.QtCore import QByteArray, QRectF, Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QPainter, QPen, QPixmap
from PySide6.QtSvg import QSvgRenderer

from desktop.assets import asset_path

# Trays ask for 16 (Windows 100 %), 22/24 (Linux panels), 32/40/48 (HiDPI) and more.
TRAY_SIZES = (16, 20, 22, 24, 32, 40, 44, 48, 64)
# The ring advances in 2.5 % steps: a run re-renders the icon at most 40 times.
RING_STEPS = 40
RING_COLOR = QColor("#5b8cff")


def panel_variant() -> str:
    """ "dark" (a light glyph, for dark panels) or "light" (a dark glyph, for light panels).

    The panel's colour is not something Qt can see; the system colour scheme is the best hint.
    With no hint, "dark": most Linux panels and the Windows taskbar are dark by default."""
    scheme = QGuiApplication.styleHints().colorScheme()
    return "light" if scheme == Qt.ColorScheme.Light else "dark"


# The rendered glyphs (desktop/tools/render_icons.py) are named by their own colour: a light
# glyph for a dark panel and the other way round.
GLYPH_FOR_PANEL = {"dark": "tray-light", "light": "tray-dark"}


@cache
def _svg_bytes(variant: str) -> bytes:
    return asset_path(f"icons/tray/{GLYPH_FOR_PANEL[variant]}.svg").read_bytes()


def glyph_color(variant: str) -> QColor:
    return QColor("#f2f3f5" if variant == "dark" else "#26282e")


def render(size: int, variant: str, progress: float | None = None, paused: bool = False) -> QPixmap:
    """One square pixmap. `progress` in [0, 1] draws the ring; None draws the plain glyph."""
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer = QSvgRenderer(QByteArray(_svg_bytes(variant)))
    if progress is None and not paused:
        renderer.render(painter, QRectF(0, 0, size, size))
        painter.end()
        return pixmap
    width = max(1.5, size * 0.1)
    ring = QRectF(0, 0, size, size).adjusted(width / 2, width / 2, -width / 2, -width / 2)
    track = glyph_color(variant)
    track.setAlphaF(0.32)
    pen = QPen(track, width)
    pen.setCapStyle(Qt.PenCapStyle.FlatCap)
    painter.setPen(pen)
    painter.drawEllipse(ring)
    if progress and not paused:
        pen.setColor(RING_COLOR)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        painter.setPen(pen)
        # Clockwise from twelve o'clock; angles are in 1/16 degree.
        painter.drawArc(ring, 90 * 16, -round(min(1.0, progress) * 360 * 16))
    inset = width * 0.9 + size * 0.02
    renderer.render(painter, QRectF(0, 0, size, size).adjusted(inset, inset, -inset, -inset))
    painter.end()
    return pixmap


@cache
def tray_icon(variant: str, step: int | None = None, paused: bool = False) -> QIcon:
    """`step` in 0..RING_STEPS (None: idle). Cached: a run shows at most RING_STEPS pictures."""
    icon = QIcon()
    progress = None if step is None else step / RING_STEPS
    for size in TRAY_SIZES:
        icon.addPixmap(render(size, variant, progress, paused))
    if sys.platform == "darwin" and step is None:
        icon.setIsMask(True)  # a template image: the menu bar colours it for light and dark
    return icon


def ring_step(percent: int | None) -> int | None:
    if percent is None:
        return None
    return max(0, min(RING_STEPS, round(percent * RING_STEPS / 100)))
