"""GIF container: walking blocks (sub-blocks are skipped by their lengths, LZW is never decoded)
to count frames, drop comment and application extensions, and keep the two extensions that
matter (frame timing, looping) only in their exact form."""

from __future__ import annotations

import struct
import sys
from collections.abc import Iterator
from dataclasses import dataclass

from backend.images import _limits
from backend.images import _metadata as md
from backend.images.errors import BrokenImage

IMAGE, EXTENSION, TRAILER = 0x2C, 0x21, 0x3B
GRAPHIC_CONTROL, COMMENT, PLAIN_TEXT, APPLICATION = 0xF9, 0xFE, 0x01, 0xFF
_LOOP_APPS = (b"\x0bNETSCAPE2.0", b"\x0bANIMEXTS1.0")  # with the identifier's size byte
_GRAPHIC_CONTROL_SIZE = 4  # flags, delay (2 bytes), transparent colour index
_LOOP_SIZE = 3  # sub-block id (1), loop count (2 bytes)


def _broken(detail: str) -> BrokenImage:
    return BrokenImage(f"This GIF file is damaged or incomplete: {detail}.")


def _colour_table(packed: int) -> int:
    return 3 << ((packed & 7) + 1) if packed & 0x80 else 0


def _skip_sub_blocks(data: bytes, pos: int, counted: int, limit: int) -> tuple[int, int]:
    """Where the data sub-blocks starting at pos end, and the running count of sub-blocks,
    refused as soon as it passes the limit (one-byte sub-blocks cost a step each)."""
    n = len(data)
    while pos < n:
        size = data[pos]
        pos += size + 1
        if size == 0:
            return pos, counted
        counted += 1
        if counted > limit:
            _limits.check_parts(counted, limit, "GIF", "data sub-blocks")
    raise _broken("it ends in the middle of a block")


def _header_end(data: bytes) -> int:
    if len(data) < 13:
        raise _broken("its header is cut off")
    end = 13 + _colour_table(data[10])
    if end > len(data):
        raise _broken("its colour table is cut off")
    return end


def blocks(data: bytes, max_sub_blocks: int = sys.maxsize) -> Iterator[tuple[int, int, int]]:
    """Yield (kind, start, end): kind is IMAGE, TRAILER, or 0x100 | label for an extension.

    Stops after the trailer, at the end of the data, or at a byte that starts no block: decoders
    stop there too, so whatever follows is not part of the image.
    """
    n = len(data)
    pos = _header_end(data)
    sub_blocks = 0
    while pos < n:
        kind = data[pos]
        if kind == IMAGE:
            if pos + 11 > n:
                raise _broken("an image header is cut off")
            end = pos + 10 + _colour_table(data[pos + 9])
            if end >= n:
                raise _broken("an image is cut off")
            # After the LZW minimum code size byte.
            end, sub_blocks = _skip_sub_blocks(data, end + 1, sub_blocks, max_sub_blocks)
            yield IMAGE, pos, end
        elif kind == EXTENSION:
            if pos + 2 > n:
                raise _broken("an extension is cut off")
            end, sub_blocks = _skip_sub_blocks(data, pos + 2, sub_blocks, max_sub_blocks)
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
    walk = blocks(data, limits.max_sub_blocks)
    for count, (kind, start, _) in enumerate(walk, start=1):
        _limits.check_parts(count, limits.max_chunks, "GIF", "blocks")
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


def _keep_exact(
    out: list[bytes | memoryview],
    removed: md.StrippedLabels,
    data: bytes,
    span: tuple[int, int],
    sub_block: int,
    size: int,
) -> None:
    """Keep the extension at `span` in its exact form: its header, one sub-block of `size`
    bytes at `sub_block`, the terminator. Later sub-blocks are never part of it and are cut
    off; one whose first sub-block has another size is not what it claims, and goes."""
    start, end = span
    exact_end = sub_block + 1 + size
    if data[sub_block] != size:
        removed.add(md.OTHER)
    elif end == exact_end + 1:
        out.append(memoryview(data)[start:end])
    else:
        removed.add(md.OTHER)
        out.append(data[start:exact_end] + b"\x00")


def strip(data: bytes, removed: md.StrippedLabels) -> bytes:
    view = memoryview(data)
    out: list[bytes | memoryview] = [view[: _header_end(data)]]
    end = len(out[0])
    kind = None
    for kind, start, end in blocks(data):
        if kind in (IMAGE, TRAILER):
            out.append(view[start:end])
        elif kind == 0x100 | GRAPHIC_CONTROL:
            _keep_exact(out, removed, data, (start, end), start + 2, _GRAPHIC_CONTROL_SIZE)
        elif kind == 0x100 | APPLICATION and data[start + 2 : start + 14] in _LOOP_APPS:
            _keep_exact(out, removed, data, (start, end), start + 14, _LOOP_SIZE)
        elif kind == 0x100 | APPLICATION and data[start + 2] == 11:
            app = data[start + 3 : start + 14]
            if app == b"XMP DataXMP":
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
