"""GIF container: walking blocks (sub-blocks are skipped by their lengths, LZW is never decoded)
to count frames and drop comment and application extensions."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

from backend.images import _limits
from backend.images import _metadata as md
from backend.images.errors import BrokenImage

IMAGE, EXTENSION, TRAILER = 0x2C, 0x21, 0x3B
GRAPHIC_CONTROL, COMMENT, PLAIN_TEXT, APPLICATION = 0xF9, 0xFE, 0x01, 0xFF
_LOOP_APPS = (b"NETSCAPE2.0", b"ANIMEXTS1.0")


def _broken(detail: str) -> BrokenImage:
    return BrokenImage(f"This GIF file is damaged or incomplete: {detail}.")


def _colour_table(packed: int) -> int:
    return 3 << ((packed & 7) + 1) if packed & 0x80 else 0


def _skip_sub_blocks(data: bytes, pos: int) -> int:
    n = len(data)
    while pos < n:
        size = data[pos]
        pos += size + 1
        if size == 0:
            return pos
    raise _broken("it ends in the middle of a block")


def _header_end(data: bytes) -> int:
    if len(data) < 13:
        raise _broken("its header is cut off")
    end = 13 + _colour_table(data[10])
    if end > len(data):
        raise _broken("its colour table is cut off")
    return end


def blocks(data: bytes) -> Iterator[tuple[int, int, int]]:
    """Yield (kind, start, end): kind is IMAGE, TRAILER, or 0x100 | label for an extension.

    Stops after the trailer, at the end of the data, or at a byte that starts no block: decoders
    stop there too, so whatever follows is not part of the image.
    """
    n = len(data)
    pos = _header_end(data)
    while pos < n:
        kind = data[pos]
        if kind == IMAGE:
            if pos + 11 > n:
                raise _broken("an image header is cut off")
            end = pos + 10 + _colour_table(data[pos + 9])
            if end >= n:
                raise _broken("an image is cut off")
            end = _skip_sub_blocks(data, end + 1)  # after the LZW minimum code size byte
            yield IMAGE, pos, end
        elif kind == EXTENSION:
            if pos + 2 > n:
                raise _broken("an extension is cut off")
            end = _skip_sub_blocks(data, pos + 2)
            yield 0x100 | data[pos + 1], pos, end
        elif kind == TRAILER:
            yield TRAILER, pos, pos + 1
            return
        else:
            return
        pos = end


@dataclass(frozen=True)
class Header:
    width: int
    height: int
    frames: int


def probe(data: bytes, limits: _limits.Limits) -> Header:
    _header_end(data)
    screen_w, screen_h = struct.unpack_from("<HH", data, 6)
    _limits.check_size(screen_w, screen_h, limits)
    # Pillow grows the canvas to fit frames that stick out of the logical screen: count that.
    canvas_w, canvas_h = screen_w, screen_h
    frames = 0
    for kind, start, _ in blocks(data):
        if kind == IMAGE:
            x, y, w, h = struct.unpack_from("<HHHH", data, start + 1)
            if w == 0 or h == 0:
                raise _broken("one of its frames has no size")
            canvas_w, canvas_h = max(canvas_w, x + w), max(canvas_h, y + h)
            frames += 1
            _limits.check_frame_count(frames, limits)
    if frames == 0:
        raise _broken("it contains no image")
    _limits.check_size(canvas_w, canvas_h, limits)
    _limits.check_total(frames, canvas_w, canvas_h, limits)
    if screen_w == 0 or screen_h == 0:
        screen_w, screen_h = canvas_w, canvas_h
    return Header(screen_w, screen_h, frames)


def strip(data: bytes, removed: md.Removed) -> bytes:
    view = memoryview(data)
    out: list[bytes | memoryview] = [view[: _header_end(data)]]
    end = len(out[0])
    kind = None
    for kind, start, end in blocks(data):
        if kind in (IMAGE, TRAILER, 0x100 | GRAPHIC_CONTROL):
            out.append(view[start:end])
        elif kind == 0x100 | APPLICATION and data[start + 2] == 11:
            app = data[start + 3 : start + 14]
            if app in _LOOP_APPS:
                out.append(view[start:end])
            elif app == b"XMP DataXMP":
                removed.add(*md.describe_xmp(data[start:end]))
            else:
                removed.add(md.OTHER)
        elif kind == 0x100 | COMMENT:
            removed.add(md.COMMENT)
        else:  # plain-text extensions (which no browser draws) and unknown ones
            removed.add(md.OTHER)
    if kind != TRAILER:
        out.append(b";")  # a GIF without its trailer is shown anyway; make it whole
    if end < len(data):
        removed.trailing(len(data) - end)
    return b"".join(out)
