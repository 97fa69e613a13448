"""A perceptual hash (dHash, 128 bits) that survives re-encoding, resizing and format changes.

A frame (upright, transparency flattened onto white) is reduced to grey 9×8 and 8×9 pictures;
each bit says whether a pixel is darker than its right (first 64 bits) or lower (last 64 bits)
neighbour. Copies of one picture land within a few bits of each other; distinct pictures about
half the bits apart (tests/backend/test_fingerprint.py measures both).

Pictures too plain to tell apart (a flat colour, a faint gradient) get no hash: blocking one of
them would block every other plain picture.

The blocklist needs more than the first frame, upright: `frame_hashes` hashes every frame a
viewer can be shown (an APNG's default image and each of its animation frames, every composited
GIF and WebP frame), and `dihedral_hashes` hashes a removed picture in all eight orientations
(as is, mirrored, rotated by 90, 180 and 270 degrees, transposed, transversed), so an upload is
hashed one way only and a mirrored or turned copy still lands near a stored hash.
"""

from __future__ import annotations

from collections.abc import Iterator

from PIL import ExifTags, Image

from backend.images._limits import Limits
from backend.images._pillow import opened
from backend.images.formats import ImageInfo
from backend.images.thumbnail import displayable

BITS = 128
_SIDE = 8
MIN_CONTRAST = 4  # grey levels between the darkest and lightest cell, below which: no hash


# What a JPEG is decoded to for the hash: grey, and scaled 1/2..1/8 by libjpeg for free.
JPEG_DRAFT = ("L", (4 * _SIDE, 4 * _SIDE))

# What turns a picture stored with an EXIF orientation upright (as Pillow's exif_transpose).
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def perceptual_hash(data: bytes, info: ImageInfo) -> str | None:
    """32 hex digits, or None for a picture with too little contrast. Raises ImageRejected."""
    with opened(data, info, info.width * info.height) as image:
        if info.format == "jpeg":
            image.draft(*JPEG_DRAFT)
        return hash_image(image)


def hash_image(image: Image.Image) -> str | None:
    """The hash of an opened image (JPEG: after `draft(*JPEG_DRAFT)`), current frame, upright."""
    image.load()  # a PNG's EXIF may follow its image data
    return hash_of(_upright_grey(image, _orientation(image)))


def frame_hashes(
    data: bytes, info: ImageInfo, limits: Limits, *, first: str | None = None
) -> list[str]:
    """The distinct hashes of every frame a viewer can be shown, in order. Raises ImageRejected.

    Every frame up to the frame limit, however briefly it is shown: a decoy first frame, or an
    APNG default image that is not part of the animation, hides nothing. The first hash is the
    one `perceptual_hash` gives (when the first frame is not too plain to have one).
    `first`: that hash, when the caller has it: a still image is then not decoded again.
    """
    with opened(data, info, limits.max_pixels) as image:
        if first is not None and _frame_count(image, limits) == 1:
            return [first]
        hashes = (hash_of(grey) for grey in _upright_frames(image, info, limits))
        return list(dict.fromkeys(h for h in hashes if h is not None))


def dihedral_hashes(data: bytes, info: ImageInfo, limits: Limits) -> list[tuple[str, ...]]:
    """For each of `frame_hashes`: the frame's distinct hashes in all eight orientations, the
    upright one first. What a removal blocks. Raises ImageRejected."""
    found: dict[str, tuple[str, ...]] = {}
    with opened(data, info, limits.max_pixels) as image:
        for grey in _upright_frames(image, info, limits):
            upright = hash_of(grey)
            if upright is None or upright in found:
                continue
            turned = (hash_of(grey.transpose(method)) for method in Image.Transpose)
            found[upright] = tuple(dict.fromkeys(h for h in (upright, *turned) if h is not None))
    return list(found.values())


def _frame_count(image: Image.Image, limits: Limits) -> int:
    # Pillow counts an APNG default image outside the animation as a frame: one more than the
    # animation's own count, which the probe held to the limit.
    return min(getattr(image, "n_frames", 1), limits.max_frames + 1)


def _upright_frames(image: Image.Image, info: ImageInfo, limits: Limits) -> Iterator[Image.Image]:
    """Each frame of an opened image in grey, upright, one at a time (JPEG: at reduced size)."""
    if info.format == "jpeg":
        image.draft(*JPEG_DRAFT)
    image.load()
    orientation = _orientation(image)
    for index in range(_frame_count(image, limits)):
        image.seek(index)  # GIF, APNG and WebP frames come composited, as they are shown
        yield _upright_grey(image, orientation)


def _orientation(image: Image.Image) -> int:
    return image.getexif().get(ExifTags.Base.Orientation, 1)


def _upright_grey(frame: Image.Image, orientation: int) -> Image.Image:
    """The frame in grey, transparency flattened onto white, turned upright (turning the grey
    copy, the smallest one)."""
    pixels = displayable(frame)
    grey = pixels.convert("L")
    if pixels.mode == "RGBA":
        # Grey is linear in R, G and B, so the grey copy flattened onto white is the grey of the
        # flattened picture, made from one-byte buffers instead of two four-byte ones.
        white = Image.new("L", pixels.size, 255)
        grey = Image.composite(grey, white, pixels.getchannel("A"))
    method = _UPRIGHT.get(orientation)
    return grey if method is None else grey.transpose(method)


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
