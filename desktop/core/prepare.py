"""Getting a file ready to leave the machine: its bytes, metadata stripped, a small thumbnail.

Stripping reuses the server's own pure code (`backend.images`), so the client removes exactly what
the server would — before the bytes are sent. A format the server does not take is converted here
(`desktop.core.convert`); what is not an image at all is refused here, and never sent. A file in
a format the server takes but that it may still refuse (broken, too many frames) is sent as it
is: the server is the judge of its own limits.
"""

from __future__ import annotations

import io
import mimetypes
import warnings
from dataclasses import dataclass, field

from PIL import Image, ImageOps

from backend.images import (
    FORMATS,
    EmptyImage,
    ImageRejected,
    Limits,
    UnsupportedType,
    detect_format,
    probe,
    strip_metadata,
)
from desktop.core.convert import NotAnImage, convert

ROW_THUMBNAIL_SIDE = 96  # logical pixels * 2 for HiDPI rows of 48 px


@dataclass(frozen=True)
class Prepared:
    data: bytes
    mime: str
    removed: list[str] = field(default_factory=list)
    thumbnail: bytes | None = None  # PNG
    name: str = ""  # the name to send: the original's, or with the converted type's extension
    converted_from: str = ""  # "HEIF", "BMP"...: converted to `mime` on this computer


def guess_mime(name: str, data: bytes) -> str:
    """The type to send: from the bytes for the formats the server takes (its own sniffing),
    else from the name."""
    found = detect_format(data[:12])
    if found is not None:
        return FORMATS[found][0]
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def prepare(name: str, data: bytes, *, strip: bool = True, thumbnail: bool = True) -> Prepared:
    """The bytes to send (metadata stripped, or converted), their type and name, what was
    removed and, unless `thumbnail` is False (the caller makes it later, off the upload's
    critical path), a thumbnail. Raises convert.NotAnImage for what is not an image."""
    mime = guess_mime(name, data)
    removed: list[str] = []
    converted_from = ""
    try:
        info = probe(data, Limits())
    except EmptyImage as exc:
        raise NotAnImage(f"{name} is empty, so nothing was sent.") from exc
    except UnsupportedType:
        converted = convert(name, data)  # converted, or refused before anything is sent
        info, converted_from = None, converted.source_format
        name, data, mime = converted.name, converted.data, converted.mime
    except ImageRejected:
        info = None  # a type the server takes, but broken or too big: it will say why
    if info is not None:
        mime = info.mime
        if strip:
            stripped = strip_metadata(data, info)
            data, removed = stripped.data, list(stripped.removed)
    thumb = row_thumbnail(data) if thumbnail else None
    return Prepared(data, mime, removed, thumb, name, converted_from)


def row_thumbnail(data: bytes, side: int = ROW_THUMBNAIL_SIDE) -> bytes | None:
    """A small PNG for the queue and history rows, or None when Pillow cannot read the file."""
    try:
        with warnings.catch_warnings():
            # A huge image only needs a tiny preview here; the server enforces real limits.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                image.draft("RGB", (side * 2, side * 2))  # JPEG: decode at reduced scale
                image = ImageOps.exif_transpose(image)
                image.thumbnail((side, side))
                out = io.BytesIO()
                image.convert("RGBA").save(out, "PNG", optimize=True)
                return out.getvalue()
    except (OSError, ValueError, Image.DecompressionBombError, SyntaxError):
        return None
