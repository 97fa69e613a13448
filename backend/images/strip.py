"""Container-level metadata removal: segments and chunks are dropped, pixel data is copied
byte for byte, so the image looks exactly as before (and upright, via a minimal EXIF)."""

from __future__ import annotations

from dataclasses import dataclass

from backend.images import _gif, _jpeg, _png, _webp
from backend.images._metadata import StrippedLabels
from backend.images.formats import ImageInfo


@dataclass(frozen=True)
class Stripped:
    data: bytes
    removed: tuple[str, ...]  # human labels, e.g. ("GPS location", "trailing data (12 bytes)")


def strip_metadata(data: bytes, info: ImageInfo) -> Stripped:
    """Remove EXIF/XMP/IPTC, comments, text chunks and anything after the image's end.

    `info` comes from `probe` on the same bytes. The only metadata written back is the EXIF
    orientation when it is not 1. Idempotent: stripping stripped bytes returns them unchanged
    and reports nothing. Raises BrokenImage when the structure cannot be walked to its end.
    """
    removed = StrippedLabels()
    if info.format == "jpeg":
        out = _jpeg.strip(data, info.orientation, removed)
    elif info.format == "png":
        out = _png.strip(data, info.orientation, removed)
    elif info.format == "gif":
        out = _gif.strip(data, removed)
    elif info.format == "webp":
        out = _webp.strip(data, info.orientation, removed)
    else:
        raise ValueError(f"unknown format {info.format!r}")
    return Stripped(out, removed.labels())
