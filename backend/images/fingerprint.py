"""A perceptual hash (dHash, 128 bits) that survives re-encoding, resizing and format changes.

The image (upright, first frame, transparency flattened onto white) is reduced to grey 9×8 and
8×9 pictures; each bit says whether a pixel is darker than its right (first 64 bits) or lower
(last 64 bits) neighbour. Copies of one picture land within a few bits of each other; distinct
pictures about half the bits apart (tests/backend/test_fingerprint.py measures both).

Pictures too plain to tell apart (a flat colour, a faint gradient) get no hash: blocking one of
them would block every other plain picture.
"""

from __future__ import annotations

from PIL import Image, ImageOps

from backend.images._pillow import opened
from backend.images.formats import ImageInfo
from backend.images.thumbnail import _displayable

BITS = 128
_SIDE = 8
MIN_CONTRAST = 4  # grey levels between the darkest and lightest cell, below which: no hash


# What a JPEG is decoded to for the hash: grey, and scaled 1/2..1/8 by libjpeg for free.
JPEG_DRAFT = ("L", (4 * _SIDE, 4 * _SIDE))


def perceptual_hash(data: bytes, info: ImageInfo) -> str | None:
    """32 hex digits, or None for a picture with too little contrast. Raises ImageRejected."""
    with opened(data, info, info.width * info.height) as image:
        if info.format == "jpeg":
            image.draft(*JPEG_DRAFT)
        return hash_image(image)


def hash_image(image: Image.Image) -> str | None:
    """The hash of an opened image (JPEG: after `draft(*JPEG_DRAFT)`), first frame, upright.
    Turns `image` itself upright (no copy of the pixels; the caller is done with it)."""
    ImageOps.exif_transpose(image, in_place=True)  # loads the first frame only
    pixels = _displayable(image)
    if pixels.mode == "RGBA":
        background = Image.new("RGBA", pixels.size, (255, 255, 255, 255))
        pixels = Image.alpha_composite(background, pixels)
    grey = pixels.convert("L")
    return hash_of(grey)


def hash_of(grey: Image.Image) -> str | None:
    rows = grey.resize((_SIDE + 1, _SIDE), Image.Resampling.LANCZOS, reducing_gap=3.0)
    cols = grey.resize((_SIDE, _SIDE + 1), Image.Resampling.LANCZOS, reducing_gap=3.0)
    r, c = rows.tobytes(), cols.tobytes()
    if max(r) - min(r) < MIN_CONTRAST and max(c) - min(c) < MIN_CONTRAST:
        return None
    bits = 0
    for y in range(_SIDE):
        for x in range(_SIDE):
            i = y * (_SIDE + 1) + x
            bits = (bits << 1) | (r[i] < r[i + 1])
    for y in range(_SIDE):
        for x in range(_SIDE):
            i = y * _SIDE + x
            bits = (bits << 1) | (c[i] < c[i + _SIDE])
    return f"{bits:0{BITS // 4}x}"


def distance(a: str, b: str) -> int:
    """Hamming distance between two hashes (0..128)."""
    return (int(a, 16) ^ int(b, 16)).bit_count()
