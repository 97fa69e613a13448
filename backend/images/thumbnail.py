"""Thumbnails: WebP, longest side THUMBNAIL_SIDE, upright, first frame, transparency kept."""

from __future__ import annotations

import io

from PIL import Image, ImageOps

from backend.images._limits import Limits
from backend.images._pillow import opened
from backend.images.cost import THUMBNAIL_SIDE, decode_memory
from backend.images.formats import probe

_QUALITY = 80
# The thumbnail is made from bytes that already passed `process`; probing again only needs the
# format and size, not the upload limits (which may have been raised by the operator).
_NO_LIMITS = Limits(max_side=2**31, max_pixels=2**62, max_frames=2**31, max_total_pixels=2**62)
_HIGH_BIT_DEPTH = ("I", "I;16", "I;16B", "I;16L", "I;16N", "F")


def displayable(image: Image.Image) -> Image.Image:
    """RGB, or RGBA when the image has any kind of transparency (WebP knows only those two)."""
    if image.mode in _HIGH_BIT_DEPTH:
        # Converting 16-bit grey to 8 bits clips instead of scaling: scale it ourselves.
        image = image.convert("I").point(lambda v: v / 257).convert("L")
    has_alpha = image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info
    mode = "RGBA" if has_alpha else "RGB"
    # Already so: the image itself (converting would copy it, megabytes for a big picture).
    return image if image.mode == mode and "transparency" not in image.info else image.convert(mode)


def make_thumbnail(data: bytes, max_side: int = THUMBNAIL_SIDE) -> bytes:
    """WebP bytes of a thumbnail; small images are never upscaled. Raises ImageRejected."""
    info = probe(data, _NO_LIMITS)
    with opened(data, info, info.width * info.height) as image:
        if info.format == "jpeg":
            image.draft("RGB", (max_side, max_side))  # let libjpeg scale down by 2, 4 or 8
        icc = image.info.get("icc_profile")
        source_mode = image.mode
        image.load()  # the first frame only
        ImageOps.exif_transpose(image, in_place=True)  # no copy of a picture already upright
        thumb = displayable(image)
        thumb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    options = {}
    # Keep an RGB profile (wide-gamut photos look wrong without it); a CMYK or grey one would
    # not describe the converted pixels.
    if icc and len(icc) > 20 and icc[16:20] == b"RGB " and source_mode in ("RGB", "RGBA", "P"):
        options["icc_profile"] = icc
    out = io.BytesIO()
    thumb.save(out, "WEBP", quality=_QUALITY, **options)
    return out.getvalue()


def thumbnail_memory(data: bytes) -> int:
    """The bytes of pixels `make_thumbnail(data)` will hold at its peak, from the headers."""
    return decode_memory(data, probe(data, _NO_LIMITS))
