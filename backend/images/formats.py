"""The allow-list of formats, detection from magic bytes, and `probe`: size, frames and
orientation read from headers only, with every limit checked before anything is decoded."""

from __future__ import annotations

from dataclasses import dataclass

from backend.images import _gif, _jpeg, _png, _webp
from backend.images._limits import Limits, check_size
from backend.images.errors import EmptyImage, UnsupportedType

__all__ = ["FORMATS", "ImageInfo", "Limits", "detect_format", "probe"]

# format -> (MIME type, file extension without the dot). Nothing else is ever stored or served.
FORMATS: dict[str, tuple[str, str]] = {
    "jpeg": ("image/jpeg", "jpg"),
    "png": ("image/png", "png"),
    "gif": ("image/gif", "gif"),
    "webp": ("image/webp", "webp"),
}

_NOT_ALLOWED = (
    "This file is not an image picdrop accepts: only JPEG, PNG, GIF and WebP are allowed."
)
# Friendlier refusals for what people most often try; the type is never trusted, only named.
_LOOKS_LIKE = (
    (b"%PDF-", "a PDF document"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"BM", "a BMP image"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"\x00\x00\x01\x00", "an icon file"),
)


def detect_format(head: bytes) -> str | None:
    """The format from the first bytes alone (12 are enough); never from names or headers."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(_png.SIGNATURE):
        return "png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "webp"
    return None


def _refusal(data: bytes) -> UnsupportedType:
    head = data[:512].lstrip().lower()
    what = next((name for magic, name in _LOOKS_LIKE if data.startswith(magic)), None)
    if what is None and b"<svg" in head:
        what = "an SVG drawing"
    elif what is None and head.startswith((b"<!doctype html", b"<html", b"<?xml", b"<")):
        what = "an HTML or XML document"
    elif what is None and data[4:8] == b"ftyp":
        what = "a HEIC/AVIF image or a video"
    return UnsupportedType(f"{_NOT_ALLOWED} This file looks like {what}." if what else _NOT_ALLOWED)


@dataclass(frozen=True)
class ImageInfo:
    format: str  # a key of FORMATS
    width: int  # as displayed: EXIF orientations 5-8 swap the stored width and height
    height: int
    frames: int  # 1 for still images
    animated: bool
    orientation: int = 1  # EXIF orientation 1..8, kept in the stripped file

    @property
    def mime(self) -> str:
        return FORMATS[self.format][0]

    @property
    def ext(self) -> str:
        return FORMATS[self.format][1]


def probe(data: bytes, limits: Limits) -> ImageInfo:
    """Read the headers, refuse what is not allowed or too big. Never decodes pixel data.

    Raises EmptyImage, UnsupportedType, BrokenImage, TooManyPixels or TooManyFrames.
    """
    if not data:
        raise EmptyImage("The file is empty.")
    fmt = detect_format(data[:12])
    orientation = 1
    if fmt == "jpeg":
        jpeg = _jpeg.probe(data, limits)
        check_size(jpeg.width, jpeg.height, limits)
        width, height, frames, orientation = jpeg.width, jpeg.height, 1, jpeg.orientation
    elif fmt == "png":
        png = _png.probe(data, limits)
        width, height, frames, orientation = png.width, png.height, png.frames, png.orientation
    elif fmt == "gif":
        gif = _gif.probe(data, limits)
        width, height, frames = gif.width, gif.height, gif.frames
    elif fmt == "webp":
        webp = _webp.probe(data, limits)
        width, height, frames, orientation = webp.width, webp.height, webp.frames, webp.orientation
    else:
        raise _refusal(data)
    if orientation >= 5:  # rotated by 90 or 270 degrees: displayed the other way round
        width, height = height, width
    return ImageInfo(fmt, width, height, frames, frames > 1, orientation)
