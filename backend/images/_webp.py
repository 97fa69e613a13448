"""WebP container (RIFF): canvas size, ANMF frame and chunk counts, and removal of every chunk
the format does not define where it stands (EXIF/XMP, unknown chunks, also inside frames; a
colour profile that is not one) with the VP8X flags and RIFF size kept consistent."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

from backend.images import _icc, _limits
from backend.images import _metadata as md
from backend.images.errors import BrokenImage

_FLAG_ANIMATION, _FLAG_XMP, _FLAG_EXIF, _FLAG_ALPHA, _FLAG_ICC = 0x02, 0x04, 0x08, 0x10, 0x20
_IMAGES = (b"VP8 ", b"VP8L")
_FRAME_HEADER = 16  # ANMF: position, size, duration and flags, then the frame's own chunks
_ANIM_SIZE = 6  # background colour, loop count


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


def _payload_end(data: bytes, start: int) -> int:
    return start + 8 + struct.unpack_from("<I", data, start + 4)[0]


def _count_chunks(data: bytes, end: int, limits: _limits.Limits) -> None:
    """Every chunk, the frames' own chunks included, against the limit before any is used."""
    parts = 0
    for fourcc, start, chunk_end in chunks(data, 12, end):
        parts += 1
        _limits.check_parts(parts, limits.max_chunks, "WebP", "chunks")
        if fourcc == b"ANMF" and chunk_end - start >= 8 + _FRAME_HEADER:
            for _ in chunks(data, start + 8 + _FRAME_HEADER, _payload_end(data, start)):
                parts += 1
                _limits.check_parts(parts, limits.max_chunks, "WebP", "chunks")


def probe(data: bytes, limits: _limits.Limits) -> Header:
    end = riff_end(data)
    _count_chunks(data, end, limits)
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


def _describe(fourcc: bytes, payload: memoryview, removed: md.StrippedLabels) -> None:
    if fourcc == b"EXIF":
        removed.add(*md.describe_exif(bytes(payload)))
    elif fourcc == b"XMP ":
        removed.add(*md.describe_xmp(bytes(payload)))
    else:
        removed.add(md.OTHER)


def _frame(
    data: bytes, start: int, chunk_end: int, removed: md.StrippedLabels
) -> bytes | memoryview:
    """An ANMF chunk with only what a frame is made of: an optional ALPH, then one VP8/VP8L.
    Unknown chunks inside frames are allowed by the format and ignored by decoders: dropped."""
    end = _payload_end(data, start)
    header_end = start + 8 + _FRAME_HEADER
    if end < header_end:
        raise _broken("an animation frame header is too short")
    kept: list[bytes | memoryview] = []
    for fourcc, sub_start, sub_end in chunks(data, header_end, end):
        if fourcc in _IMAGES or (fourcc == b"ALPH" and not kept):
            # Lossless frames carry their own alpha: an ALPH before one is unused.
            kept = kept if fourcc == b"VP8 " else []
            kept.append(memoryview(data)[sub_start:sub_end])
            if fourcc in _IMAGES:
                break
        else:
            _describe(fourcc, memoryview(data)[sub_start + 8 : sub_end], removed)
    body_size = sum(len(part) for part in kept)
    if header_end + body_size == end:
        return memoryview(data)[start:chunk_end]
    removed.add(md.OTHER)
    return _chunk(b"ANMF", data[start + 8 : header_end] + b"".join(kept))


def _defined(fourcc: bytes, payload: memoryview, flags: int, seen: set[bytes]) -> bool:
    """Whether a chunk after VP8X is one the format defines there: each at most once, nothing
    after a still image's image chunk, an ICC profile first and only a real one, alpha data
    only when the header says there is some (decoders ignore it otherwise)."""
    animated = bool(flags & _FLAG_ANIMATION)
    if fourcc in seen or not seen.isdisjoint(_IMAGES):
        return False
    if fourcc == b"ICCP":
        return not seen and _icc.is_profile(bytes(payload))
    if fourcc == b"ANIM":
        return animated and len(payload) == _ANIM_SIZE
    if fourcc == b"ALPH":
        return not animated and bool(flags & _FLAG_ALPHA)
    return not animated and fourcc in _IMAGES


def strip(data: bytes, orientation: int, removed: md.StrippedLabels) -> bytes:
    """Keep the chunks the format defines, each in its place and only as often as it may occur
    (a second image chunk is never shown, so it could carry anything); drop the rest."""
    end = riff_end(data)
    view = memoryview(data)
    walk = chunks(data, 12, end)
    fourcc, start, chunk_end = next(walk)
    body: list[bytes | memoryview] = [view[start:chunk_end]]
    if fourcc == b"VP8X":
        if _payload_end(data, start) - start != 18:
            raise _broken("its extended header has the wrong size")
        flags = data[start + 8]
        seen: set[bytes] = set()
        for fourcc, start, chunk_end in walk:
            payload = view[start + 8 : _payload_end(data, start)]
            if flags & _FLAG_ANIMATION and fourcc == b"ANMF":
                body.append(_frame(data, start, chunk_end, removed))
            elif _defined(fourcc, payload, flags, seen):
                seen.add(fourcc)
                body.append(view[start:chunk_end])
            else:
                _describe(fourcc, payload, removed)
        if {b"ALPH", b"VP8L"} <= seen:  # lossless images carry their own alpha: ALPH is unused
            removed.add(md.OTHER)
            body = [part for part in body if bytes(part[:4]) != b"ALPH"]
        flags &= ~(_FLAG_EXIF | _FLAG_XMP | _FLAG_ICC) & 0xFF
        if b"ICCP" in seen:
            flags |= _FLAG_ICC
        if orientation != 1:
            flags |= _FLAG_EXIF
            body.append(_chunk(b"EXIF", md.orientation_tiff(orientation)))  # after the image
        body[0] = bytes(body[0][:8]) + bytes([flags]) + bytes(body[0][9:])
    else:  # the simple format is one VP8/VP8L chunk; anything after it is not shown
        for fourcc, start, chunk_end in walk:
            _describe(fourcc, view[start + 8 : chunk_end], removed)
    if end < len(data):
        removed.trailing(len(data) - end)
    size = 4 + sum(len(part) for part in body)
    return b"".join([b"RIFF", struct.pack("<I", size), b"WEBP", *body])
