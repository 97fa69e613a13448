"""Icons and colours that follow the palette, so light and dark themes both read well."""

from __future__ import annotations

from functools import cache

from PySide6.QtCore import QByteArray, QRectF, Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer

from desktop.assets import asset_path

ICON_SIZES = (16, 20, 24, 32, 48, 64)


def is_dark(palette: QPalette | None = None) -> bool:
    palette = palette or QGuiApplication.palette()
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


@cache
def _svg(name: str) -> str:
    return asset_path(f"icons/{name}.svg").read_text(encoding="utf-8")


def render_svg(svg: str, size: int, ratio: float = 1.0) -> QPixmap:
    renderer = QSvgRenderer(QByteArray(svg.encode()))
    pixmap = QPixmap(round(size * ratio), round(size * ratio))
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, 0, pixmap.width(), pixmap.height()))
    painter.end()
    pixmap.setDevicePixelRatio(ratio)
    return pixmap


_icons: dict[tuple[str, int], QIcon] = {}


def icon(name: str, color: QColor | None = None) -> QIcon:
    """A line icon from assets/icons tinted with `color` (default: the palette's text colour),
    rendered at every size so it stays sharp on HiDPI screens.

    Rendered once per name and colour (a queue row uses several, and a batch adds many rows at
    once: rendering SVGs for each would stall the window); QIcon is shared, so handing out the
    same one is cheap and safe.
    """
    color = color or QGuiApplication.palette().color(QPalette.ColorRole.WindowText)
    key = (name, color.rgba())
    cached = _icons.get(key)
    if cached is not None:
        return cached
    svg = _svg(name).replace("currentColor", color.name())
    result = QIcon()
    for size in ICON_SIZES:
        result.addPixmap(render_svg(svg, size))
    _icons[key] = result
    return result


def app_icon() -> QIcon:
    svg = _svg("picdrop")
    result = QIcon()
    for size in (16, 24, 32, 48, 64, 128, 256):
        result.addPixmap(render_svg(svg, size))
    return result


def app_pixmap(size: int, ratio: float = 1.0) -> QPixmap:
    return render_svg(_svg("picdrop"), size, ratio)


def dark_palette() -> QPalette:
    """A dark palette for the Fusion style, for platforms whose theme offers none."""
    palette = QPalette()
    roles = QPalette.ColorRole
    for role, color in (
        (roles.Window, "#1f2126"),
        (roles.WindowText, "#e8e9ed"),
        (roles.Base, "#272a30"),
        (roles.AlternateBase, "#2d3037"),
        (roles.ToolTipBase, "#2d3037"),
        (roles.ToolTipText, "#e8e9ed"),
        (roles.PlaceholderText, "#8b8f99"),
        (roles.Text, "#e8e9ed"),
        (roles.Button, "#2b2e35"),
        (roles.ButtonText, "#e8e9ed"),
        (roles.BrightText, "#ffffff"),
        (roles.Light, "#3a3e46"),
        (roles.Midlight, "#33363d"),
        (roles.Mid, "#24262b"),
        (roles.Dark, "#17181c"),
        (roles.Shadow, "#000000"),
        (roles.Highlight, "#5b8cff"),
        (roles.HighlightedText, "#ffffff"),
        (roles.Link, "#7fa6ff"),
    ):
        palette.setColor(role, QColor(color))
    disabled = QPalette.ColorGroup.Disabled
    for role in (roles.WindowText, roles.Text, roles.ButtonText):
        palette.setColor(disabled, role, QColor("#6c707a"))
    return palette


def apply_color_scheme(app, dark: bool | None = None) -> None:
    """Follow the system's dark mode (or force `dark`). Styles that draw dark themselves
    (Windows 11, macOS, a GTK/KDE platform theme) already deliver a dark palette; Fusion without
    a platform theme does not, so it gets ours."""
    if dark is None:
        dark = QGuiApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark
    if dark and not is_dark(app.palette()):
        app.setStyle("Fusion")
        app.setPalette(dark_palette())
    elif not dark and is_dark(app.palette()):
        app.setPalette(app.style().standardPalette())


class Colors:
    """Semantic colours picked for the current palette's brightness."""

    def __init__(self, palette: QPalette | None = None) -> None:
        palette = palette or QGuiApplication.palette()
        dark = is_dark(palette)
        self.accent = palette.color(QPalette.ColorRole.Highlight)
        self.text = palette.color(QPalette.ColorRole.WindowText)
        self.muted = QColor(self.text)
        self.muted.setAlphaF(0.62)
        self.success = QColor("#3fb96b" if dark else "#1f8a4c")
        self.danger = QColor("#ff6b6b" if dark else "#c62828")
        self.warning = QColor("#f0b429" if dark else "#9a6700")
        self.card = palette.color(QPalette.ColorRole.Base)
        self.border = QColor(self.text)
        self.border.setAlphaF(0.14)
        self.subtle = QColor(self.accent)
        self.subtle.setAlphaF(0.10)


def rgba(color: QColor) -> str:
    """A colour for a style sheet, alpha included."""
    return f"rgba({color.red()}, {color.green()}, {color.blue()}, {color.alphaF():.3f})"
