"""A link as a QR code, to open it on a phone: drawn by segno (pure Python), shown with the link."""

from __future__ import annotations

import io

import segno
from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

from desktop.ui.geometry import fit_to_screen


def qr_pixmap(text: str, scale: int = 6) -> QPixmap:
    """Black on white with the standard quiet zone, whatever the theme: scanners need it."""
    out = io.BytesIO()
    segno.make(text, error="m").save(out, kind="png", scale=scale, border=4)
    pixmap = QPixmap()
    pixmap.loadFromData(out.getvalue(), "PNG")
    return pixmap


class QrDialog(QDialog):
    def __init__(self, link: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("QR code")  # Qt adds " — picdrop"
        self.code = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        self.code.setPixmap(qr_pixmap(link))
        self.code.setAccessibleName(f"QR code of {link}")
        self.link = QLabel(link, alignment=Qt.AlignmentFlag.AlignCenter)
        self.link.setTextFormat(Qt.TextFormat.PlainText)
        self.link.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.link.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.code)
        layout.addWidget(self.link)
        layout.addWidget(buttons)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        fit_to_screen(self)
