"""The image pipeline: pure functions on bytes, no HTTP, no storage, no Qt.

    info = probe(data, limits)            # format from the bytes + header-level limits
    stripped = strip_metadata(data, info) # container-level, pixels untouched
    verify_decode(stripped.data, info, limits)  # bounded decode: truncated/corrupt -> BrokenImage
    thumb = make_thumbnail(stripped.data) # WebP, longest side 320, orientation applied

`process()` runs the first three and is what the upload path calls. The desktop client reuses
`strip_metadata` so that metadata is removed before bytes leave the machine.
"""

from backend.images.errors import (
    BrokenImage,
    EmptyImage,
    ImageRejected,
    TooComplex,
    TooManyFrames,
    TooManyPixels,
    UnsupportedType,
)
from backend.images.formats import FORMATS, ImageInfo, Limits, detect_format, probe
from backend.images.pipeline import Processed, process
from backend.images.strip import Stripped, strip_metadata
from backend.images.thumbnail import THUMBNAIL_SIDE, make_thumbnail
from backend.images.verify import verify_decode

__all__ = [
    "FORMATS",
    "THUMBNAIL_SIDE",
    "BrokenImage",
    "EmptyImage",
    "ImageInfo",
    "ImageRejected",
    "Limits",
    "Processed",
    "Stripped",
    "TooComplex",
    "TooManyFrames",
    "TooManyPixels",
    "UnsupportedType",
    "detect_format",
    "make_thumbnail",
    "probe",
    "process",
    "strip_metadata",
    "verify_decode",
]
