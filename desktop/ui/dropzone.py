"""The drop zone: a large target that highlights for an acceptable drag and says what it takes.

It turns drops into intent signals and never reads files or the network itself.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QDragEnterEvent,
    QDragLeaveEvent,
    QDragMoveEvent,
    QDropEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
)
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout

from desktop.core.intake import FileSource, Source
from desktop.ui import theme
from desktop.ui.mime import may_accept, sources_from_mime


def is_uploader_file(source: Source) -> bool:
    return isinstance(source, FileSource) and source.path.suffix.lower() == ".sxcu"


class DropZone(QFrame):
    # list[Source]: files and folders as dropped, image bytes, http(s) image URLs
    sources_dropped = Signal(list)
    uploaders_dropped = Signal(list)  # list[Path]: ShareX custom uploaders (.sxcu) to import
    browse_requested = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("DropZone")
        self.setAcceptDrops(True)
        self.setMinimumHeight(136)
        self.setMaximumHeight(190)
        self.setAccessibleName("Drop zone")
        self.setAccessibleDescription("Drop images here, paste with Ctrl+V, or browse for files")
        self._hovering = False
        self._refusing = False

        self.icon_label = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        self.title = QLabel(
            "Drop images here, paste, or browse", alignment=Qt.AlignmentFlag.AlignCenter
        )
        self.title.setObjectName("DropTitle")
        self.hint = QLabel(
            "JPEG, PNG, GIF or WebP · files, folders, browser images and links",
            alignment=Qt.AlignmentFlag.AlignCenter,
        )
        self.hint.setObjectName("Muted")
        self.browse_button = QPushButton("Browse…")
        self.browse_button.setToolTip("Choose images to upload (Ctrl+O)")
        self.browse_button.clicked.connect(self.browse_requested)

        buttons = QHBoxLayout()
        buttons.addStretch()
        buttons.addWidget(self.browse_button)
        buttons.addStretch()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.setSpacing(6)
        layout.addStretch()
        layout.addWidget(self.icon_label)
        layout.addWidget(self.title)
        layout.addWidget(self.hint)
        layout.addSpacing(6)
        layout.addLayout(buttons)
        layout.addStretch()
        self._update_icon()

    @property
    def hovering(self) -> bool:
        return self._hovering

    def _update_icon(self) -> None:
        colors = theme.Colors(self.palette())
        color = colors.accent if self._hovering else colors.muted
        self.icon_label.setPixmap(theme.icon("upload", color).pixmap(40, 40))

    def _set_hover(self, hovering: bool, refusing: bool = False) -> None:
        self._hovering, self._refusing = hovering, refusing
        self.title.setText(
            "Release to upload"
            if hovering
            else "This cannot be uploaded"
            if refusing
            else "Drop images here, paste, or browse"
        )
        self._update_icon()
        self.update()

    # -- drag and drop ------------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if may_accept(event.mimeData()):
            event.acceptProposedAction()
            self._set_hover(True)
        else:
            event.ignore()
            self._set_hover(False, refusing=True)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if self._hovering:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:
        self._set_hover(False)

    def dropEvent(self, event: QDropEvent) -> None:
        self._set_hover(False)
        sources = sources_from_mime(event.mimeData())
        if not sources:
            event.ignore()
            return
        event.acceptProposedAction()
        uploaders = [s.path for s in sources if is_uploader_file(s)]
        if uploaders:
            self.uploaders_dropped.emit(uploaders)
        rest = [s for s in sources if not is_uploader_file(s)]
        if rest:
            self.sources_dropped.emit(rest)

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
        if self._hovering:
            fill = QColor(colors.accent)
            fill.setAlphaF(0.14)
            border = colors.accent
        else:
            fill = QColor(self.palette().color(QPalette.ColorRole.Base))
            fill.setAlphaF(0.55)
            border = QColor(colors.danger if self._refusing else colors.text)
            border.setAlphaF(0.6 if self._refusing else 0.28)
        painter.setBrush(fill)
        pen = QPen(border, 1.6 if not self._hovering else 2.2)
        pen.setStyle(Qt.PenStyle.DashLine)
        pen.setDashPattern([5, 4])
        painter.setPen(pen)
        painter.drawRoundedRect(rect, 14, 14)
        painter.end()
