"""A short notice ("Link copied") floating at the top of the window, over the header, where it
never hides an upload's link; then it goes."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRectF, Qt, QTimer
from PySide6.QtGui import QFont, QPainter
from PySide6.QtWidgets import QWidget

from desktop.ui import theme

DURATION_MS = 2500


class Toast(QWidget):
    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("Toast")
        self.setAccessibleName("Notice")
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self._text = ""
        self._timer = QTimer(self, singleShot=True, interval=DURATION_MS)
        self._timer.timeout.connect(self.hide)
        font = QFont(self.font())
        font.setWeight(QFont.Weight.DemiBold)
        self.setFont(font)
        self.hide()

    def text(self) -> str:
        return self._text

    def show_text(self, text: str) -> None:
        self._text = text
        metrics = self.fontMetrics()
        self.resize(metrics.horizontalAdvance(text) + 40, metrics.height() + 18)
        self.reposition()
        self.show()
        self.raise_()
        self.update()
        self._timer.start()

    def reposition(self) -> None:
        parent = self.parentWidget()
        if parent is not None:
            self.move(QPoint((parent.width() - self.width()) // 2, 14))

    def paintEvent(self, event) -> None:
        colors = theme.Colors(self.palette())
        background = theme.blend(colors.text, colors.window, 0.9)  # the inverse of the window
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(background)
        rect = QRectF(self.rect())
        painter.drawRoundedRect(rect, rect.height() / 2, rect.height() / 2)
        painter.setPen(theme.readable(colors.window, background))
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, self._text)
        painter.end()
