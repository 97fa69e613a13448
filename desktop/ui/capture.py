"""The region overlay: a frozen picture of the desktop, covering it, on which the user drags out a
region, then adjusts it by its handles (mouse) or with the arrow keys (Shift: resize, Ctrl: ten
pixels), with a magnifier under the pointer and the size shown. Enter (or a double click) takes
it, Escape or a right click cancels; Enter with nothing selected takes the whole desktop.

It gets the screenshot from its caller and gives back pixels; it grabs nothing and saves nothing.
The geometry lives in `desktop.core.selection`.
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

from desktop.core.selection import Handle, Rect, drag, handle_points, hit, nudge, span
from desktop.ui.tray_icons import RING_COLOR

HINT = (
    "Drag a region  ·  Handles or arrows adjust (Shift: resize)  ·  Enter: capture  ·  Esc: cancel"
)
HANDLE_SIZE = 7
MAGNIFIED = 15  # the magnifier shows this many pixels across…
ZOOM = 8  # …this many times larger
ARROW_KEYS = {
    Qt.Key.Key_Left: "left",
    Qt.Key.Key_Right: "right",
    Qt.Key.Key_Up: "up",
    Qt.Key.Key_Down: "down",
}
CURSORS = {
    Handle.TOP_LEFT: Qt.CursorShape.SizeFDiagCursor,
    Handle.BOTTOM_RIGHT: Qt.CursorShape.SizeFDiagCursor,
    Handle.TOP_RIGHT: Qt.CursorShape.SizeBDiagCursor,
    Handle.BOTTOM_LEFT: Qt.CursorShape.SizeBDiagCursor,
    Handle.TOP: Qt.CursorShape.SizeVerCursor,
    Handle.BOTTOM: Qt.CursorShape.SizeVerCursor,
    Handle.LEFT: Qt.CursorShape.SizeHorCursor,
    Handle.RIGHT: Qt.CursorShape.SizeHorCursor,
    Handle.MOVE: Qt.CursorShape.SizeAllCursor,
}


def to_qrect(rect: Rect) -> QRect:
    return QRect(rect.x, rect.y, rect.w, rect.h)


class CaptureOverlay(QWidget):
    captured = Signal(QImage)  # the chosen pixels, at the screens' full resolution
    cancelled = Signal()
    selection_changed = Signal(QRect)

    def __init__(self, shot: QImage, geometry: QRect) -> None:
        # On X11 the overlay bypasses the window manager: covering every monitor at once, on top
        # at once, taking the pointer from the first press (the keyboard is grabbed on show).
        super().__init__(
            None,
            Qt.WindowType.FramelessWindowHint
            | Qt.WindowType.WindowStaysOnTopHint
            | Qt.WindowType.Tool
            | Qt.WindowType.X11BypassWindowManagerHint,
        )
        self.setObjectName("CaptureOverlay")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setMouseTracking(True)
        self.shot = shot
        self.ratio = shot.width() / max(1, geometry.width())
        self.pixmap = QPixmap.fromImage(shot)
        self.setGeometry(geometry)
        self._bounds = Rect(0, 0, geometry.width(), geometry.height())
        self._selection = Rect(0, 0, 0, 0)
        self._grabbed: Handle | None = None  # what the mouse holds while a button is down
        self._press = QPoint()
        self._at_press = self._selection
        self._pointer = QPoint(-1, -1)
        self._done = False

    # -- result -------------------------------------------------------------------------------
    def selection(self) -> QRect:
        return to_qrect(self._selection)

    def set_selection(self, rect: Rect) -> None:
        self._selection = rect.clamped(self._bounds)
        self.selection_changed.emit(self.selection())
        self.update()

    def region_pixels(self, rect: Rect) -> QImage:
        """`rect` in this widget's (logical) coordinates, cut from the frozen shot in device
        pixels: a HiDPI screen gives a HiDPI capture."""
        r = self.ratio
        device = QRect(round(rect.x * r), round(rect.y * r), round(rect.w * r), round(rect.h * r))
        return self.shot.copy(device.intersected(self.shot.rect()))

    def finish(self) -> None:
        """Take the selection, or the whole desktop when nothing is selected."""
        if self._done:
            return
        self._done = True
        image = self.shot.copy() if self._selection.empty else self.region_pixels(self._selection)
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
        if event.button() == Qt.MouseButton.RightButton:
            self.cancel()
            return
        if event.button() != Qt.MouseButton.LeftButton:
            return
        point = event.position().toPoint()
        self._press = point
        self._grabbed = hit(self._selection, point.x(), point.y())
        if self._grabbed is None:  # a new selection, from this corner
            self._grabbed = Handle.BOTTOM_RIGHT
            self._selection = Rect(point.x(), point.y(), 0, 0)
        self._at_press = self._selection
        self.update()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        point = event.position().toPoint()
        self._pointer = point
        if self._grabbed is None:
            handle = hit(self._selection, point.x(), point.y())
            self.setCursor(CURSORS.get(handle, Qt.CursorShape.CrossCursor))
            self.update()
            return
        delta = point - self._press
        if self._at_press.empty:
            moved = span(self._press.x(), self._press.y(), point.x(), point.y())
            self.set_selection(moved)
        else:
            self.set_selection(drag(self._at_press, self._grabbed, delta.x(), delta.y(),
                                    self._bounds))  # fmt: skip

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._grabbed = None
            self.update()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        point = event.position().toPoint()
        if self._selection.contains(point.x(), point.y()):
            self.finish()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        mods = event.modifiers()
        if key == Qt.Key.Key_Escape:
            self.cancel()
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.finish()
        elif key in ARROW_KEYS and not self._selection.empty:
            step = 10 if mods & Qt.KeyboardModifier.ControlModifier else 1
            resize = bool(mods & Qt.KeyboardModifier.ShiftModifier)
            self.set_selection(nudge(self._selection, ARROW_KEYS[key], self._bounds,
                                     resize=resize, step=step))  # fmt: skip
        else:
            super().keyPressEvent(event)

    # -- painting -----------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.drawPixmap(self.rect(), self.pixmap)
        shade = QColor(0, 0, 0, 130)
        selection = self.selection()
        if self._selection.empty:
            painter.fillRect(self.rect(), shade)
        else:
            # Dim everything but the selection, which shows the frozen screen as it is.
            full = self.rect()
            for part in (
                QRect(0, 0, full.width(), selection.top()),
                QRect(0, selection.bottom() + 1, full.width(), full.height()),
                QRect(0, selection.top(), selection.left(), selection.height()),
                QRect(selection.right() + 1, selection.top(), full.width(), selection.height()),
            ):
                painter.fillRect(part, shade)
            painter.setPen(QPen(RING_COLOR, 1))
            painter.drawRect(QRectF(selection).adjusted(-0.5, -0.5, 0.5, 0.5))
            self._handles(painter)
            self._label(painter, f"{selection.width()} × {selection.height()}", selection)
        self._hint(painter)
        if self.rect().contains(self._pointer):
            self._magnifier(painter)
        painter.end()

    def _handles(self, painter: QPainter) -> None:
        painter.setPen(QPen(QColor("#ffffff"), 1))
        painter.setBrush(RING_COLOR)
        half = HANDLE_SIZE // 2
        for x, y in handle_points(self._selection).values():
            painter.drawRect(QRect(x - half, y - half, HANDLE_SIZE, HANDLE_SIZE))

    def _magnifier(self, painter: QPainter) -> None:
        """The pixels around the pointer, enlarged, with a cross on the one under it."""
        p = self._pointer
        half = MAGNIFIED // 2
        source = self.region_pixels(Rect(p.x() - half, p.y() - half, MAGNIFIED, MAGNIFIED))
        side = MAGNIFIED * ZOOM
        box = QRect(p.x() + 20, p.y() + 20, side, side)
        if box.right() > self.width():
            box.moveRight(p.x() - 20)
        if box.bottom() > self.height():
            box.moveBottom(p.y() - 20)
        painter.fillRect(box, QColor(20, 22, 26))
        painter.drawImage(box, source.scaled(side, side))
        painter.setPen(QPen(RING_COLOR, 1))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(box)
        centre = box.topLeft() + QPoint(half * ZOOM, half * ZOOM)
        painter.drawRect(QRect(centre, QPoint(centre.x() + ZOOM, centre.y() + ZOOM)))
        self._label(
            painter, f"{p.x()}, {p.y()}", QRect(box.bottomLeft() + QPoint(0, 30), box.size())
        )

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
