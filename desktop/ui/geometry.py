"""Keeping windows on their screen: a window (or dialog) never opens larger than the screen's
available area (scaled screens, small laptops, a taskbar), nor outside it."""

from __future__ import annotations

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QWidget


def fit_to_screen(window: QWidget) -> None:
    """Shrink `window` to its screen's available geometry (frame included) and move it inside."""
    screen = window.screen() or QGuiApplication.primaryScreen()
    if screen is None:
        return
    area = screen.availableGeometry()
    frame = window.frameGeometry().size() - window.geometry().size()  # title bar and borders
    width = min(window.width(), area.width() - frame.width())
    height = min(window.height(), area.height() - frame.height())
    window.setMinimumSize(min(window.minimumWidth(), width), min(window.minimumHeight(), height))
    window.resize(width, height)
    outer = window.frameGeometry()
    x = min(max(outer.x(), area.left()), area.right() + 1 - outer.width())
    y = min(max(outer.y(), area.top()), area.bottom() + 1 - outer.height())
    if (x, y) != (outer.x(), outer.y()):
        window.move(x, y)
