"""Opening bytes with Pillow on our terms: our limits are already checked, so Pillow's own
bomb warning is silenced only when those limits allow more than it does, and every decoder
failure becomes a BrokenImage (never an OSError or SyntaxError reaching the HTTP layer).
Decoders are fed small chunks through a file that checks the work's interrupt (interrupt.py)."""

from __future__ import annotations

import contextlib
import struct
import warnings
import zlib
from collections.abc import Iterator

from PIL import Image, ImageFile

from backend.images._limits import count
from backend.images.errors import BrokenImage, TooManyPixels
from backend.images.formats import ImageInfo
from backend.images.interrupt import CHUNK, GuardedBytes

_PIL_FORMAT = {"jpeg": "JPEG", "png": "PNG", "gif": "GIF", "webp": "WEBP"}
# What Pillow's plugins raise on bad input (struct/zlib errors escape some of them).
DECODER_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    KeyError,
    TypeError,
    struct.error,
    zlib.error,
)


@contextlib.contextmanager
def opened(data: bytes, info: ImageInfo, allowed_pixels: int) -> Iterator[Image.Image]:
    """Image.open restricted to the probed format; errors inside the block are mapped too.

    allowed_pixels: the most pixels an image that passed probe can have (limits.max_pixels).
    """
    bomb_limit = Image.MAX_IMAGE_PIXELS
    try:
        with contextlib.ExitStack() as stack:
            if bomb_limit is not None and allowed_pixels > bomb_limit:
                # Only with limits above Pillow's: catch_warnings is process-wide, keep it rare.
                stack.enter_context(warnings.catch_warnings())
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(GuardedBytes(data), formats=[_PIL_FORMAT[info.format]]) as image:
                if isinstance(image, ImageFile.ImageFile):
                    image.decodermaxblock = CHUNK
                yield image
    except Image.DecompressionBombError as e:
        raise TooManyPixels(
            f"This image has more pixels than the decoder accepts ({count(2 * (bomb_limit or 0))})."
        ) from e
    except DECODER_ERRORS as e:
        raise BrokenImage(
            f"This {_PIL_FORMAT[info.format]} file is damaged or incomplete, so it cannot be shown."
        ) from e
