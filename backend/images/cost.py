"""What decoding an image costs in memory, known from its headers before any pixel is decoded.

The figure is the peak of the pixel buffers our pipeline holds at once for one image (checking
and hashing it at upload, or making its thumbnail): width x height x bytes per pixel of each
buffer. Frames are decoded one at a time, each onto the whole canvas (GIF logical screen, WebP
canvas), so an animation costs what one frame on its canvas costs. Measured with Pillow 13:
RGBA PNG 8 bytes a pixel, RGB PNG 5, palette GIF 5, WebP 16, progressive JPEG 3 (4:2:0),
baseline JPEG almost nothing (decoded at 1/8 scale).
"""

from __future__ import annotations

from PIL import Image

from backend.images._pillow import opened
from backend.images.errors import TooManyPixels
from backend.images.formats import ImageInfo

MB = 1024 * 1024
_ALPHA_MODES = ("RGBA", "LA", "PA", "La", "RGBa")
_NARROW_MODES = ("1", "L", "P")  # one byte a pixel; Pillow keeps RGB in four
# WebP (Pillow opens it by decoding): libwebp's canvas, the frame's bytes and Pillow's copy.
_WEBP_DECODED = 12
# An RGBA picture's grey copy is flattened onto white for its hash: alpha, white and the result.
_FLATTEN = 3
_GREY = 1  # the grey copy the hash is computed from
THUMBNAIL_SIDE = 320  # the thumbnails' longest side (thumbnail.py makes them)


def decode_memory(data: bytes, info: ImageInfo) -> int:
    """Peak bytes of pixel buffers while `data` (which passed `probe`) is checked or thumbnailed."""
    area = info.width * info.height
    if info.format == "webp":  # opening one decodes it: the mode is not known before; say RGBA
        return area * (_WEBP_DECODED + _FLATTEN + _GREY)
    with opened(data, info, area) as image:  # headers only for JPEG, PNG and GIF
        if info.format == "jpeg":
            return _jpeg_memory(image, area)
        decoded = 1 if image.mode in _NARROW_MODES and not info.animated else 4
        alpha = image.mode in _ALPHA_MODES or "transparency" in image.info
        # Made RGB or RGBA for the hash and the thumbnail (thumbnail.displayable).
        converted = 4 if image.mode not in ("RGB", "RGBA") or "transparency" in image.info else 0
        return area * (decoded + converted + (_FLATTEN if alpha else 0) + _GREY)


def _jpeg_memory(image: Image.Image, area: int) -> int:
    # libjpeg keeps every DCT coefficient of a progressive image (2 bytes each) until the last
    # scan; the pixels themselves are decoded scaled down (1/8 to check, >= 320 px for a
    # thumbnail), four bytes a pixel.
    scale = 1
    while scale < 8 and min(image.size) // (2 * scale) >= THUMBNAIL_SIDE:
        scale *= 2
    pixels = area * 4 // (scale * scale)
    if not image.info.get("progressive"):
        return pixels
    h_max = max(h for _id, h, _v, _q in image.layer)
    v_max = max(v for _id, _h, v, _q in image.layer)
    samples = sum(h * v for _id, h, v, _q in image.layer) / (h_max * v_max)
    return pixels + int(area * samples * 2)


def check_memory(needed: int, allowed: int) -> None:
    """TooManyPixels when processing an image would need more memory than the server allows."""
    if needed > allowed:
        raise TooManyPixels(
            f"This image is too large to process: it needs about {needed / MB:,.0f} MB of "
            f"memory once decoded; this server allows {allowed / MB:,.0f} MB."
        )
