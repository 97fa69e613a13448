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


# WCAG AA for normal text is 4.5:1; a little above it leaves room for antialiasing.
TEXT_CONTRAST = 4.6


def luminance(color: QColor) -> float:
    """WCAG relative luminance."""

    def channel(value: float) -> float:
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    return (
        0.2126 * channel(color.redF())
        + 0.7152 * channel(color.greenF())
        + 0.0722 * channel(color.blueF())
    )


def contrast(a: QColor, b: QColor) -> float:
    """WCAG contrast ratio, 1 to 21."""
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def blend(color: QColor, background: QColor, alpha: float) -> QColor:
    """`color` at `alpha` painted over an opaque `background`, as the solid colour seen."""
    mix = [
        round(c * alpha + b * (1 - alpha))
        for c, b in zip(color.getRgb()[:3], background.getRgb()[:3], strict=True)
    ]
    return QColor(*mix)


def readable(color: QColor, *backgrounds: QColor, minimum: float = TEXT_CONTRAST) -> QColor:
    """`color`, darkened or lightened just enough to read on every background (a theme's
    selection colour used as a link colour can be 1.7:1 on its own cards)."""
    darker = sum(luminance(b) for b in backgrounds) / len(backgrounds) > 0.18
    result = QColor(color)
    result.setAlpha(255)
    for _step in range(40):
        if min(contrast(result, b) for b in backgrounds) >= minimum:
            break
        result = result.darker(110) if darker else result.lighter(112)
        if not darker and result.lightness() >= 250:
            result = QColor("#ffffff")
    return result


class Colors:
    """Semantic colours picked for the current palette: every colour used for text reads at
    WCAG AA (4.5:1) on both the window and the cards, whatever the theme."""

    def __init__(self, palette: QPalette | None = None) -> None:
        palette = palette or QGuiApplication.palette()
        dark = is_dark(palette)
        self.window = palette.color(QPalette.ColorRole.Window)
        self.card = palette.color(QPalette.ColorRole.Base)
        grounds = (self.window, self.card)
        self.accent = palette.color(QPalette.ColorRole.Highlight)  # fills and borders
        self.text = palette.color(QPalette.ColorRole.WindowText)
        self.muted = readable(blend(self.text, self.card, 0.62), *grounds)
        # A theme's link colour, unless it is no colour at all (pure blue on dark themes).
        link = palette.color(QPalette.ColorRole.Link)
        self.link = readable(link if contrast(link, self.card) >= 3 else self.accent, *grounds)
        self.success = readable(QColor("#3fb96b" if dark else "#1f8a4c"), *grounds)
        self.danger = readable(QColor("#ff6b6b" if dark else "#c62828"), *grounds)
        self.warning = readable(QColor("#f0b429" if dark else "#9a6700"), *grounds)
        self.border = QColor(self.text)
        self.border.setAlphaF(0.14)
        self.subtle = QColor(self.accent)
        self.subtle.setAlphaF(0.10)

    def badge(self, color: QColor) -> tuple[QColor, QColor]:
        """A state badge's text and its tinted background, readable together."""
        background = blend(color, self.card, 0.13)
        return readable(color, background), background


def rgba(color: QColor) -> str:
    """A colour for a style sheet, alpha included."""
    return f"rgba({color.red()}, {color.green()}, {color.blue()}, {color.alphaF():.3f})"
