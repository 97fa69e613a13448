"""A bounded decode of the (stripped) bytes: truncated or corrupt images become BrokenImage.

Runs after `probe`, so sizes and frame counts are already within the limits; it never sets
ImageFile.LOAD_TRUNCATED_IMAGES, so Pillow reports truncation instead of padding it with grey.
"""

from __future__ import annotations

from backend.images import _png, interrupt
from backend.images._limits import Limits
from backend.images._pillow import opened
from backend.images.fingerprint import JPEG_DRAFT, hash_image, perceptual_hash
from backend.images.formats import ImageInfo


def verify_decode(data: bytes, info: ImageInfo, limits: Limits) -> None:
    """Raise BrokenImage (or TooManyPixels from the decoder's own guard) unless data decodes."""
    if info.format == "png":
        # Checking every CRC and inflating every stream (with row filters and sizes) finds all
        # that a PNG decoder can reject, in constant memory and without unfiltering pixels.
        _png.check_data(data)
    with opened(data, info, limits.max_pixels) as image:
        if info.format == "png":
            return  # Pillow parsed the header chunks: enough for the thumbnail to follow
        if info.format == "jpeg":
            # libjpeg still entropy-decodes every coefficient (where truncation and most
            # corruption show) but at 1/8 scale and luma only it skips most of the IDCT work.
            image.draft("L", (max(1, image.width // 8), max(1, image.height // 8)))
            image.load()
            return
        for index in range(info.frames):  # GIF and WebP: every frame, composited
            interrupt.check()  # a WebP frame is decoded in one call: stop between frames
            image.seek(index)
            image.load()


def verify_structure(data: bytes, info: ImageInfo, limits: Limits) -> None:
    """What an upload must pass when no perceptual hash is wanted of it now: a JPEG's segments
    and scans were walked by `probe` already (a cut-off file has no end-of-image marker); a
    PNG's CRCs and streams are checked; GIF and WebP frames are decoded as by `verify_decode`.
    Skips the pixel decode a JPEG's hash needs (about a third of an upload's CPU)."""
    if info.format != "jpeg":
        verify_decode(data, info, limits)


def verify_and_hash(data: bytes, info: ImageInfo, limits: Limits) -> str | None:
    """`verify_decode`, then `perceptual_hash` of the same bytes; for JPEG one decode does both.

    The hash's reduced JPEG decode (grey, 1/8 scale for pictures of 256 pixels a side or more)
    still entropy-decodes every coefficient, so it verifies the image exactly as
    `verify_decode` does, and the hash is the one `perceptual_hash` computes.
    """
    if info.format != "jpeg":
        verify_decode(data, info, limits)
        return perceptual_hash(data, info)
    with opened(data, info, limits.max_pixels) as image:
        image.draft(*JPEG_DRAFT)
        image.load()
        return hash_image(image)
