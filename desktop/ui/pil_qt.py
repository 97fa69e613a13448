"""Pillow images to QImage and back (RGB, 8 bits a channel), for the editor and the capture flow."""

from __future__ import annotations

from PIL import Image
from PySide6.QtGui import QImage


def to_qimage(image: Image.Image) -> QImage:
    rgb = image.convert("RGB")
    data = rgb.tobytes()
    # QImage does not own `data`: copy before it goes away.
    return QImage(data, rgb.width, rgb.height, 3 * rgb.width, QImage.Format.Format_RGB888).copy()


def from_qimage(image: QImage) -> Image.Image:
    rgb = image.convertToFormat(QImage.Format.Format_RGB888)
    raw = bytes(rgb.constBits())
    return Image.frombytes("RGB", (rgb.width(), rgb.height()), raw, "raw", "RGB",
                           rgb.bytesPerLine())  # fmt: skip
