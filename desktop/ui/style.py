"""The application style sheet, written against palette roles so it follows light and dark."""

from __future__ import annotations

from PySide6.QtGui import QPalette

from desktop.ui import theme


def style_sheet(palette: QPalette) -> str:
    c = theme.Colors(palette)
    dark = theme.is_dark(palette)
    card = palette.color(QPalette.ColorRole.Base)
    card_border = theme.rgba(c.border)
    hover = theme.rgba(c.subtle)
    banner_bg = "rgba(240, 180, 41, 0.12)" if dark else "rgba(240, 180, 41, 0.16)"
    return f"""
    #Header {{ background: transparent; }}
    #AppTitle {{ font-size: 17pt; font-weight: 600; }}
    #Muted {{ color: {c.muted.name()}; }}
    #DropTitle {{ font-size: 13pt; font-weight: 600; }}
    #RowName {{ font-weight: 600; }}
    #Badge {{ border-radius: 8px; padding: 1px 8px; font-size: 9pt; font-weight: 600; }}
    #UploadRow {{
        background: {card.name()};
        border: 1px solid {card_border};
        border-radius: 10px;
    }}
    #QueueBody, #QueueView {{ background: transparent; }}
    #Banner {{
        background: {banner_bg};
        border: 1px solid rgba(240, 180, 41, 0.45);
        border-radius: 8px;
    }}
    QProgressBar {{
        border: none;
        border-radius: 3px;
        background: {theme.rgba(c.border)};
    }}
    QProgressBar::chunk {{ border-radius: 3px; background: {c.accent.name()}; }}
    QToolButton {{ border-radius: 6px; padding: 4px; }}
    QToolButton:hover {{ background: {hover}; }}
    QToolButton:focus {{ border: 1px solid {c.accent.name()}; }}
    QToolButton::menu-indicator {{ image: none; }}
    #SectionTitle {{ font-weight: 600; font-size: 11pt; }}
    """
