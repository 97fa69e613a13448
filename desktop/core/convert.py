"""Converting images the server does not take (BMP, TIFF, HEIC/HEIF from phones, AVIF, and any
other still image Pillow reads) to PNG or JPEG on this computer, with the orientation applied
and no metadata; and refusing what is not an image before any byte leaves the machine.

HEIC/HEIF need the pillow-heif plugin; without it such files are refused with a sentence saying
so (AVIF is read by Pillow itself).
"""

from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import dataclass
from pathlib import PurePath

from PIL import Image, ImageOps

from backend.images import Limits

with contextlib.suppress(ImportError):  # optional: HEIC/HEIF from iPhones
    from pillow_heif import register_heif_opener

    register_heif_opener()

# Lossy sources stay lossy (a photo as PNG would be several times larger); the rest is kept
# exact as PNG.
LOSSY_SOURCES = frozenset({"HEIF", "AVIF", "JPEG2000", "MPO"})
JPEG_QUALITY = 92
SERVER_FORMATS = "JPEG, PNG, GIF and WebP"
CONVERTED_FORMATS = "BMP, TIFF, HEIC and AVIF"


class NotAnImage(Exception):
    """A permanent refusal: the message says what the file is not and that nothing was sent."""


@dataclass(frozen=True)
class Converted:
    name: str  # the file name with the new extension
    data: bytes
    mime: str
    source_format: str  # "HEIF", "BMP", ...: said on the row


def convert(name: str, data: bytes, limits: Limits | None = None) -> Converted:
    """PNG or JPEG pixels of the image in `data` (first frame, upright), nothing else; raises
    NotAnImage when Pillow cannot read it as an image."""
    limits = limits or Limits()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                source_format = image.format or "image"
                _check_pixels(name, image.size, limits)
                upright = ImageOps.exif_transpose(image)
                icc = image.info.get("icc_profile")  # colour, not a trace of the uploader
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise NotAnImage(f"{name} is too large to convert: nothing was sent.") from exc
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise NotAnImage(not_an_image(name)) from exc
    has_alpha = upright.mode in ("RGBA", "LA", "PA") or "transparency" in upright.info
    lossy = source_format in LOSSY_SOURCES and not has_alpha
    pixels = upright.convert("RGBA" if has_alpha else "RGB")
    pixels.info = {}  # convert() copies EXIF, XMP and the rest along: none of it goes
    out = io.BytesIO()
    options = {"icc_profile": icc} if icc else {}
    if lossy:
        pixels.save(out, "JPEG", quality=JPEG_QUALITY, **options)
    else:
        pixels.save(out, "PNG", optimize=False, **options)
    extension, mime = (".jpg", "image/jpeg") if lossy else (".png", "image/png")
    return Converted(
        str(PurePath(name).with_suffix(extension)), out.getvalue(), mime, source_format
    )


def _check_pixels(name: str, size: tuple[int, int], limits: Limits) -> None:
    """Checked from the header, before the pixels are decoded."""
    width, height = size
    if max(width, height) > limits.max_side or width * height > limits.max_pixels:
        raise NotAnImage(
            f"{name} is {width}×{height} pixels, more than a server takes: nothing was sent."
        )


def not_an_image(name: str) -> str:
    return (
        f"{name} is not an image, so nothing was sent. picdrop uploads {SERVER_FORMATS} "
        f"images and converts {CONVERTED_FORMATS}."
    )
