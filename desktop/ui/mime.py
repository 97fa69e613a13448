"""Reading a drag's or the clipboard's QMimeData into the core's upload sources."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QMimeData
from PySide6.QtGui import QImage

from desktop.core.intake import Source, is_web_url, sources_from_drop

# Original encoded bytes, when the source app offers them, beat a re-encoded QImage.
RAW_IMAGE_FORMATS = ("image/png", "image/jpeg", "image/gif", "image/webp")


def image_bytes(mime: QMimeData) -> tuple[bytes, str] | None:
    for fmt in RAW_IMAGE_FORMATS:
        if mime.hasFormat(fmt):
            data = bytes(mime.data(fmt).data())
            if data:
                return data, fmt
    if mime.hasImage():
        image = mime.imageData()
        if isinstance(image, QImage) and not image.isNull():
            return encode_png(image), "image/png"
    return None


def encode_png(image: QImage) -> bytes:
    array = QByteArray()
    buffer = QBuffer(array)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    buffer.close()
    return bytes(array.data())


def sources_from_mime(mime: QMimeData) -> list[Source]:
    urls = mime.urls() if mime.hasUrls() else []
    return sources_from_drop(
        paths=[Path(u.toLocalFile()) for u in urls if u.isLocalFile()],
        urls=[u.toString() for u in urls if not u.isLocalFile()],
        html=mime.html() if mime.hasHtml() else "",
        text=mime.text() if mime.hasText() else "",
        image=image_bytes(mime),
    )


def may_accept(mime: QMimeData) -> bool:
    """A cheap look during drag-enter (no file system walk, no decoding)."""
    if mime.hasUrls() and any(u.isLocalFile() or is_web_url(u.toString()) for u in mime.urls()):
        return True
    if mime.hasImage() or any(mime.hasFormat(f) for f in RAW_IMAGE_FORMATS):
        return True
    if mime.hasHtml() and "<img" in mime.html().lower():
        return True
    text = mime.text().strip() if mime.hasText() else ""
    return is_web_url(text) or text.startswith("data:image/")
