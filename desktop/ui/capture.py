"""The screen-capture overlay: a frozen picture of the screen, covering it, on which the user drags
out a region (or clicks, or presses Enter, for the whole screen; Escape cancels).

It gets the screenshot from its caller and gives back pixels; it grabs nothing and saves nothing.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect, QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QPixmap,
)
from PySide6.QtWidgets import QWidget

from desktop.ui.tray_icons import RING_COLOR

# A press and release closer than this (logical pixels) is a click: the whole screen.
CLICK_SLOP = 4
HINT = "Drag to capture a region  ·  Click or Enter: whole screen  ·  Esc: cancel"


class CaptureOverlay(QWidget):
    captured = Signal(QImage)  # the chosen pixels, at the screen's full resolution
    cancelled = Signal()

    def __init__(self, shot: QPixmap, geometry: QRect) -> None:
        super().__init__(
            None,
            Qt.WindowType.FramelessWindowHint
            | Qt.WindowType.WindowStaysOnTopHint
            | Qt.WindowType.Tool,
        )
        self.setObjectName("CaptureOverlay")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setMouseTracking(True)
        self.shot = shot
        self.setGeometry(geometry)
        self._origin: QPoint | None = None
        self._selection = QRect()
        self._done = False

    # -- result -------------------------------------------------------------------------------
    def selection(self) -> QRect:
        return QRect(self._selection)

    def region_pixels(self, rect: QRect) -> QImage:
        """`rect` in this widget's (logical) coordinates, cut from the frozen shot in device
        pixels: a HiDPI screen gives a HiDPI capture."""
        ratio = self.shot.devicePixelRatio()
        device = QRect(
            round(rect.x() * ratio),
            round(rect.y() * ratio),
            round(rect.width() * ratio),
            round(rect.height() * ratio),
        ).intersected(QRect(0, 0, self.shot.width(), self.shot.height()))
        image = self.shot.copy(device).toImage()
        image.setDevicePixelRatio(1.0)
        return image

    def finish(self, rect: QRect | None = None) -> None:
        """Capture `rect` (logical), or the whole screen."""
        if self._done:
            return
        self._done = True
        image = (
            self.region_pixels(rect)
            if rect is not None and not rect.isEmpty()
            else self.shot.toImage()
        )
        image.setDevicePixelRatio(1.0)
        self.close()
        self.captured.emit(image)

    def cancel(self) -> None:
        if self._done:
            return
        self._done = True
        self.close()
        self.cancelled.emit()

    # -- input --------------------------------------------------------------------------------
    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.activateWindow()
        self.raise_()
        self.grabKeyboard()

    def closeEvent(self, event) -> None:
        self.releaseKeyboard()
        super().closeEvent(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._origin = event.position().toPoint()
            self._selection = QRect(self._origin, self._origin)
            self.update()
        elif event.button() == Qt.MouseButton.RightButton:
            self.cancel()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._origin is not None:
            self._selection = _span(self._origin, event.position().toPoint())
            self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self._origin is None:
            return
        end = event.position().toPoint()
        origin, self._origin = self._origin, None
        if (end - origin).manhattanLength() < CLICK_SLOP:
            self.finish(None)
        else:
            self._selection = _span(origin, end)
            self.finish(self._selection)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.cancel()
        elif event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.finish(self._selection if not self._selection.isEmpty() else None)
        else:
            super().keyPressEvent(event)

    # -- painting -----------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.drawPixmap(self.rect(), self.shot)
        shade = QColor(0, 0, 0, 130)
        selection = self._selection.normalized()
        if selection.isEmpty():
            painter.fillRect(self.rect(), shade)
        else:
            # Dim everything but the selection, which shows the frozen screen as it is.
            full = self.rect()
            painter.fillRect(QRect(full.left(), full.top(), full.width(), selection.top()), shade)
            painter.fillRect(
                QRect(full.left(), selection.bottom() + 1, full.width(), full.bottom()), shade
            )
            painter.fillRect(
                QRect(full.left(), selection.top(), selection.left(), selection.height()), shade
            )
            painter.fillRect(
                QRect(
                    selection.right() + 1,
                    selection.top(),
                    full.right() - selection.right(),
                    selection.height(),
                ),
                shade,
            )
            painter.setPen(QPen(RING_COLOR, 1))
            painter.drawRect(QRectF(selection).adjusted(-0.5, -0.5, -0.5, -0.5))
            self._label(painter, f"{selection.width()} × {selection.height()}", selection)
        self._hint(painter)
        painter.end()

    def _label(self, painter: QPainter, text: str, near: QRect) -> None:
        metrics = painter.fontMetrics()
        box = QRect(0, 0, metrics.horizontalAdvance(text) + 14, metrics.height() + 6)
        box.moveTopLeft(near.topLeft() - QPoint(0, box.height() + 4))
        if box.top() < 0:
            box.moveTopLeft(near.topLeft() + QPoint(4, 4))
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(20, 22, 26, 220))
        painter.drawRoundedRect(QRectF(box), 4, 4)
        painter.setPen(QColor("#ffffff"))
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)

    def _hint(self, painter: QPainter) -> None:
        metrics = painter.fontMetrics()
        box = QRect(0, 0, metrics.horizontalAdvance(HINT) + 28, metrics.height() + 14)
        box.moveCenter(QPoint(self.width() // 2, 0))
        box.moveTop(24)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(20, 22, 26, 210))
        painter.drawRoundedRect(QRectF(box), box.height() / 2, box.height() / 2)
        painter.setPen(QColor("#ffffff"))
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, HINT)


def _span(a: QPoint, b: QPoint) -> QRect:
    """The rectangle between two corner points, `b` exclusive: dragging from (10, 10) to
    (110, 60) selects 100 × 50 pixels."""
    left, right = sorted((a.x(), b.x()))
    top, bottom = sorted((a.y(), b.y()))
    return QRect(left, top, right - left, bottom - top)
