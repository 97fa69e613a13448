"""WebP container (RIFF): canvas size, ANMF frame count, and removal of EXIF/XMP chunks with the
VP8X flags and RIFF size kept consistent."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

from backend.images import _limits
from backend.images import _metadata as md
from backend.images.errors import BrokenImage

_FLAG_ANIMATION, _FLAG_XMP, _FLAG_EXIF = 0x02, 0x04, 0x08
_IMAGE_CHUNKS = frozenset([b"VP8X", b"ICCP", b"ANIM", b"ANMF", b"ALPH", b"VP8 ", b"VP8L"])


def _broken(detail: str) -> BrokenImage:
    return BrokenImage(f"This WebP file is damaged or incomplete: {detail}.")


def riff_end(data: bytes) -> int:
    if len(data) < 20:
        raise _broken("its header is cut off")
    end = 8 + struct.unpack_from("<I", data, 4)[0]
    if end > len(data):
        raise _broken("it is shorter than its header says")
    return end


def chunks(data: bytes, pos: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """Yield (fourcc, start, end) of each chunk between pos and end; end includes padding."""
    while pos < end:
        if pos + 8 > end:
            raise _broken("a chunk header is cut off")
        fourcc, size = struct.unpack_from("<4sI", data, pos)
        payload_end = pos + 8 + size
        if payload_end > end:
            raise _broken(f"its {fourcc.decode('latin-1').strip()!r} chunk is cut off")
        # Chunks are padded to an even size; tolerate a missing pad byte at the very end.
        chunk_end = min(payload_end + (size & 1), end)
        yield fourcc, pos, chunk_end
        pos = chunk_end


def _u24(data: bytes, pos: int) -> int:
    return data[pos] | data[pos + 1] << 8 | data[pos + 2] << 16


@dataclass(frozen=True)
class Header:
    width: int
    height: int
    frames: int
    animated: bool
    orientation: int


def _still_size(fourcc: bytes, data: bytes, start: int, end: int) -> tuple[int, int]:
    p = start + 8
    if fourcc == b"VP8 " and end - p >= 10 and data[p + 3 : p + 6] == b"\x9d\x01\x2a":
        w, h = struct.unpack_from("<HH", data, p + 6)
        return w & 0x3FFF, h & 0x3FFF
    if fourcc == b"VP8L" and end - p >= 5 and data[p] == 0x2F:
        bits = struct.unpack_from("<I", data, p + 1)[0]
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    raise _broken("its image header is invalid")


def probe(data: bytes, limits: _limits.Limits) -> Header:
    end = riff_end(data)
    walk = chunks(data, 12, end)
    first = next(walk, None)
    if first is None:
        raise _broken("it contains no image")
    fourcc, start, chunk_end = first
    if fourcc != b"VP8X":  # the simple format: one VP8 or VP8L chunk
        width, height = _still_size(fourcc, data, start, chunk_end)
        _limits.check_size(width, height, limits)
        return Header(width, height, 1, False, 1)
    if chunk_end - start < 18:
        raise _broken("its extended header is too short")
    flags = data[start + 8]
    width, height = _u24(data, start + 12) + 1, _u24(data, start + 15) + 1
    _limits.check_size(width, height, limits)
    frames = 0
    has_image = False
    orientation = None
    for fourcc, start, chunk_end in walk:
        if fourcc == b"ANMF":
            if chunk_end - start < 24:
                raise _broken("an animation frame header is too short")
            x, y = 2 * _u24(data, start + 8), 2 * _u24(data, start + 11)
            w, h = _u24(data, start + 14) + 1, _u24(data, start + 17) + 1
            if x + w > width or y + h > height:
                raise _broken("an animation frame lies outside the image")
            frames += 1
            _limits.check_frame_count(frames, limits)
        elif fourcc in (b"VP8 ", b"VP8L"):
            has_image = True
        elif fourcc == b"EXIF" and orientation is None:
            orientation = md.exif_orientation(data[start + 8 : chunk_end])
    animated = bool(flags & _FLAG_ANIMATION)
    if (animated and frames == 0) or (not animated and not has_image):
        raise _broken("it contains no image")
    frames = frames if animated else 1
    _limits.check_total(frames, width, height, limits)
    return Header(width, height, frames, animated and frames > 1, orientation or 1)


def _chunk(fourcc: bytes, payload: bytes) -> bytes:
    return fourcc + struct.pack("<I", len(payload)) + payload + b"\x00" * (len(payload) & 1)


def strip(data: bytes, orientation: int, removed: md.Removed) -> bytes:
    end = riff_end(data)
    view = memoryview(data)
    body: list[bytes | memoryview] = []
    extended = False
    for index, (fourcc, start, chunk_end) in enumerate(chunks(data, 12, end)):
        # The simple format is one VP8/VP8L chunk; anything after it is not shown.
        if fourcc in _IMAGE_CHUNKS and (extended or index == 0):
            if fourcc == b"VP8X":
                extended = True
                vp8x = bytearray(view[start:chunk_end])
                vp8x[8] &= ~(_FLAG_EXIF | _FLAG_XMP) & 0xFF
                if orientation != 1:
                    vp8x[8] |= _FLAG_EXIF
                body.append(bytes(vp8x))
            else:
                body.append(view[start:chunk_end])
        elif fourcc == b"EXIF":
            removed.add(*md.describe_exif(data[start + 8 : chunk_end]))
        elif fourcc == b"XMP ":
            removed.add(*md.describe_xmp(data[start + 8 : chunk_end]))
        else:
            removed.add(md.OTHER)
    if extended and orientation != 1:
        body.append(_chunk(b"EXIF", md.orientation_tiff(orientation)))  # EXIF goes after image
    if end < len(data):
        removed.trailing(len(data) - end)
    size = 4 + sum(len(part) for part in body)
    return b"".join([b"RIFF", struct.pack("<I", size), b"WEBP", *body])
