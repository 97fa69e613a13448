"""Drops on the window: the whole window is the target, with one highlight over it while an
acceptable drag hovers, and a drop zone that says what it takes (a slim bar once there are
uploads).

Drops are always taken as a copy (or a link), never a move: a drag source that honours Move
would delete the user's original. The widgets here turn drops into intent signals and never
read files or the network themselves.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QDropEvent, QFont, QPainter, QPaintEvent, QPalette, QPen
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from desktop.core.intake import FileSource, Source
from desktop.ui import theme
from desktop.ui.mime import may_accept, sources_from_mime

SAFE_ACTIONS = (Qt.DropAction.CopyAction, Qt.DropAction.LinkAction)


def is_uploader_file(source: Source) -> bool:
    return isinstance(source, FileSource) and source.path.suffix.lower() == ".sxcu"


def safe_action(event: QDropEvent) -> Qt.DropAction | None:
    """Copy, else Link, when the source offers it; None when it offers only Move."""
    offered = event.possibleActions()
    return next((a for a in SAFE_ACTIONS if offered & a), None)


class DropHighlight(QWidget):
    """Drawn over the whole window while a drag it can take hovers: one clear highlight."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.hide()

    def cover(self) -> None:
        self.setGeometry(self.parentWidget().rect())
        self.show()
        self.raise_()

    def paintEvent(self, event: QPaintEvent) -> None:
        colors = theme.Colors(self.palette())
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        fill = QColor(self.palette().color(QPalette.ColorRole.Window))
        fill.setAlphaF(0.9)
        rect = QRectF(self.rect()).adjusted(8, 8, -8, -8)
        painter.setBrush(fill)
        pen = QPen(colors.accent, 2.5)
        pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.drawRoundedRect(rect, 14, 14)
        font = QFont(self.font())
        font.setPointSizeF(font.pointSizeF() * 1.4)
        font.setWeight(QFont.Weight.DemiBold)
        painter.setFont(font)
        painter.setPen(colors.text)
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, "Release to upload")
        painter.end()


class WindowDrops(QObject):
    """Takes drops anywhere on `window` (an event filter on it: drags over child widgets that
    take no drops themselves reach it) and shows `highlight` while one hovers."""

    # list[Source]: files and folders as dropped, image bytes, http(s) image URLs
    sources_dropped = Signal(list)
    uploaders_dropped = Signal(list)  # list[Path]: ShareX custom uploaders (.sxcu) to import

    def __init__(self, window: QWidget, highlight: DropHighlight) -> None:
        super().__init__(window)
        self.highlight = highlight
        window.setAcceptDrops(True)
        window.installEventFilter(self)

    @property
    def hovering(self) -> bool:
        return not self.highlight.isHidden()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove):
            action = safe_action(event)
            if action is not None and may_accept(event.mimeData()):
                event.setDropAction(action)
                event.accept()
                self.highlight.cover()
            else:
                event.ignore()
                self.highlight.hide()
            return True
        if kind == QEvent.Type.DragLeave:
            self.highlight.hide()
            return True
        if kind == QEvent.Type.Drop:
            self.highlight.hide()
            self._drop(event)
            return True
        return False

    def _drop(self, event: QDropEvent) -> None:
        action = safe_action(event)
        sources = sources_from_mime(event.mimeData()) if action is not None else []
        if not sources:
            event.ignore()
            return
        event.setDropAction(action)
        event.accept()
        uploaders = [s.path for s in sources if is_uploader_file(s)]
        if uploaders:
            self.uploaders_dropped.emit(uploaders)
        rest = [s for s in sources if not is_uploader_file(s)]
        if rest:
            self.sources_dropped.emit(rest)


class DropZone(QFrame):
    """Says what the window takes and offers Browse…; `set_compact(True)` makes it a slim bar
    once there are uploads to show."""

    browse_requested = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("DropZone")
        self.setAccessibleName("Drop zone")
        self.setAccessibleDescription("Drop images here, paste with Ctrl+V, or browse for files")
        self.compact = False

        self.icon_label = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        self.title = QLabel(
            "Drop images anywhere, paste, or browse", alignment=Qt.AlignmentFlag.AlignCenter
        )
        self.title.setObjectName("DropTitle")
        self.hint = QLabel(
            "JPEG, PNG, GIF, WebP; BMP, TIFF, HEIC and AVIF are converted · files, folders, "
            "browser images and links",
            alignment=Qt.AlignmentFlag.AlignCenter,
        )
        self.hint.setObjectName("Muted")
        self.hint.setWordWrap(True)
        self.browse_button = QPushButton("Browse…")
        self.browse_button.setToolTip("Choose images to upload (Ctrl+O)")
        self.browse_button.clicked.connect(self.browse_requested)

        self._buttons = QHBoxLayout()
        self._buttons.addStretch()
        self._buttons.addWidget(self.browse_button)
        self._buttons.addStretch()
        self._layout = QVBoxLayout(self)
        self._layout.setSpacing(6)
        self._layout.addStretch()
        self._layout.addWidget(self.icon_label)
        self._layout.addWidget(self.title)
        self._layout.addWidget(self.hint)
        self._layout.addLayout(self._buttons)
        self._layout.addStretch()
        self.set_compact(False)

    def set_compact(self, compact: bool) -> None:
        """A slim bar (one line and Browse…) or the full zone."""
        self.compact = compact
        self.icon_label.setVisible(not compact)
        self.hint.setVisible(not compact)
        self.title.setText(
            "Drop more images anywhere in the window, or"
            if compact
            else "Drop images anywhere, paste, or browse"
        )
        self.title.setObjectName("Muted" if compact else "DropTitle")
        self.title.style().unpolish(self.title)
        self.title.style().polish(self.title)
        # The compact bar puts the title and the button on one line.
        self._layout.removeWidget(self.title)
        self._buttons.removeWidget(self.title)
        if compact:
            self._buttons.insertWidget(1, self.title)
            self._layout.setContentsMargins(12, 6, 12, 6)
            self.setFixedHeight(self.sizeHint().height())
        else:
            self._layout.insertWidget(2, self.title)
            self._layout.setContentsMargins(24, 16, 24, 16)
            self.setMinimumHeight(136)
            self.setMaximumHeight(190)
        self._update_icon()

    def _update_icon(self) -> None:
        muted = theme.Colors(self.palette()).muted
        self.icon_label.setPixmap(theme.icon("upload", muted).pixmap(40, 40))

    # -- painting -----------------------------------------------------------------------------
    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == event.Type.PaletteChange:
            self._update_icon()

    def paintEvent(self, event: QPaintEvent) -> None:
        colors = theme.Colors(self.palette())
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = QRectF(self.rect()).adjusted(1.5, 1.5, -1.5, -1.5)
        fill = QColor(self.palette().color(QPalette.ColorRole.Base))
        fill.setAlphaF(0.55)
        border = QColor(colors.text)
        border.setAlphaF(0.28)
        painter.setBrush(fill)
        pen = QPen(border, 1.6)
        pen.setStyle(Qt.PenStyle.DashLine)
        pen.setDashPattern([5, 4])
        painter.setPen(pen)
        radius = 8 if self.compact else 14
        painter.drawRoundedRect(rect, radius, radius)
        painter.end()
