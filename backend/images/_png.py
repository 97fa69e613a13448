"""PNG and APNG container: chunk walking, header limits, metadata chunk removal, and a
streaming check of the compressed image data (CRCs, zlib, sizes, filter bytes)."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from backend.images import _limits
from backend.images import _metadata as md
from backend.images.errors import BrokenImage

SIGNATURE = b"\x89PNG\r\n\x1a\n"

# Chunks that change how the pixels look, or make up the animation. Everything else goes:
# tEXt/zTXt/iTXt/eXIf/tIME, and private chunks whose meaning we cannot check (Apple's iDOT even
# holds file offsets that would be wrong once other chunks are removed).
_KEEP = frozenset(
    b"IHDR PLTE IDAT IEND tRNS cHRM gAMA iCCP sBIT sRGB cICP mDCV cLLI bKGD hIST pHYs".split()
    + b"acTL fcTL fdAT".split()  # APNG
)
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}
# Adam7: (x start, y start, x step, y step) of each pass.
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2))
_ADAM7 += ((0, 1, 1, 2),)
_INFLATE_STEP = 1 << 20  # bytes of decompressed output held at a time


def _broken(detail: str) -> BrokenImage:
    return BrokenImage(f"This PNG file is damaged or incomplete: {detail}.")


def chunks(data: bytes) -> Iterator[tuple[bytes, int, int]]:
    """Yield (type, start, end) of every chunk up to and including IEND; end covers the CRC."""
    n = len(data)
    pos = len(SIGNATURE)
    while True:
        if pos + 12 > n:
            raise _broken("it ends before its end chunk")
        length, ctype = struct.unpack_from(">I4s", data, pos)
        end = pos + 12 + length
        if length > 0x7FFFFFFF or end > n:
            raise _broken(f"its {ctype.decode('latin-1')!r} chunk is cut off")
        if not ctype.isalpha():
            raise _broken("it contains a chunk with an invalid name")
        yield ctype, pos, end
        if ctype == b"IEND":
            return
        pos = end


@dataclass(frozen=True)
class Header:
    width: int
    height: int
    bit_depth: int
    colour_type: int
    interlaced: bool
    frames: int  # 1 for plain PNG; acTL's count for APNG
    orientation: int


def _ihdr(data: bytes) -> tuple[int, int, int, int, bool]:
    if len(data) < 33 or data[12:16] != b"IHDR" or data[8:12] != b"\x00\x00\x00\x0d":
        raise _broken("it does not start with an image header")
    width, height, depth, colour, compression, filtering, interlace = struct.unpack_from(
        ">IIBBBBB", data, 16
    )
    if not (0 < width < 2**31 and 0 < height < 2**31):
        raise _broken("its header gives an impossible size")
    if depth not in _DEPTHS.get(colour, ()) or compression or filtering or interlace > 1:
        raise _broken("its header has invalid values")
    return width, height, depth, colour, bool(interlace)


def probe(data: bytes, limits: _limits.Limits) -> Header:
    width, height, depth, colour, interlaced = _ihdr(data)
    # Refuse a bomb from its header alone, before walking (or inflating) anything else.
    _limits.check_size(width, height, limits)
    frames = 1
    controls = 0
    orientation = None
    for ctype, start, end in chunks(data):
        if ctype == b"acTL" and end - start >= 20:
            frames = struct.unpack_from(">I", data, start + 8)[0]
            _limits.check_frame_count(frames, limits)
        elif ctype == b"fcTL":
            controls += 1
            _limits.check_frame_count(controls, limits)
        elif ctype == b"eXIf" and orientation is None:
            orientation = md.exif_orientation(data[start + 8 : end - 4])
    if frames == 0:
        raise _broken("its animation has no frames")
    frames = max(frames, controls)
    _limits.check_total(frames, width, height, limits)
    return Header(width, height, depth, colour, interlaced, frames, orientation or 1)


def _chunk(ctype: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(ctype + payload)
    return struct.pack(">I", len(payload)) + ctype + payload + struct.pack(">I", crc)


def _describe_text(ctype: bytes, payload: bytes) -> list[str]:
    keyword = payload.split(b"\x00", 1)[0]
    if keyword == b"XML:com.adobe.xmp":
        return md.describe_xmp(payload)
    if keyword.startswith(b"Raw profile type exif") or keyword.startswith(b"Raw profile type APP1"):
        return [md.EXIF]
    if keyword.startswith(b"Raw profile type iptc"):
        return [md.IPTC]
    return [md.COMMENT if keyword == b"Comment" else md.TEXT]


def strip(data: bytes, orientation: int, removed: md.Removed) -> bytes:
    view = memoryview(data)
    out: list[bytes | memoryview] = [view[: len(SIGNATURE)]]
    end = len(SIGNATURE)
    for ctype, start, end in chunks(data):
        if ctype in _KEEP:
            out.append(view[start:end])
            if ctype == b"IHDR" and orientation != 1:
                # Only one eXIf is allowed, before the image data: right after IHDR is safe.
                out.append(_chunk(b"eXIf", md.orientation_tiff(orientation)))
        elif ctype in (b"tEXt", b"zTXt", b"iTXt"):
            removed.add(*_describe_text(ctype, data[start + 8 : end - 4]))
        elif ctype == b"eXIf":
            removed.add(*md.describe_exif(data[start + 8 : end - 4]))
        elif ctype == b"tIME":
            removed.add(md.TIME)
        else:
            removed.add(md.OTHER)
    if end < len(data):
        removed.trailing(len(data) - end)
    return md.rejoin(data, out, added=orientation != 1)


def _rows(width: int, height: int, bits_per_pixel: int, interlaced: bool) -> list[tuple[int, int]]:
    """(bytes per row including the filter byte, rows) of each pass of the raw image data."""
    passes = _ADAM7 if interlaced else ((0, 0, 1, 1),)
    rows = []
    for x0, y0, dx, dy in passes:
        w = (width - x0 + dx - 1) // dx
        h = (height - y0 + dy - 1) // dy
        if w > 0 and h > 0:
            rows.append(((w * bits_per_pixel + 7) // 8 + 1, h))
    return rows


def _check_stream(parts: list[memoryview], rows: list[tuple[int, int]], what: str) -> None:
    """Inflate one image stream in bounded steps; check it is complete, its adler32 is right
    (zlib checks it at the end) and every row starts with a valid filter type (0-4)."""
    expected = sum(stride * count for stride, count in rows)
    inflater = zlib.decompressobj()
    done = 0  # raw bytes produced so far
    row_pass, row_index, pass_start = 0, 0, 0

    def check_filters(out: bytes) -> None:
        nonlocal row_pass, row_index, pass_start
        end = done + len(out)
        while row_pass < len(rows):
            stride, count = rows[row_pass]
            first = pass_start + row_index * stride
            if first >= end:
                return
            last = min(count - 1, (end - 1 - pass_start) // stride)
            filters = out[first - done : pass_start + last * stride - done + 1 : stride]
            if max(filters) > 4:
                raise _broken(f"{what} has an invalid row filter")
            row_index = last + 1
            if row_index < count:
                return
            pass_start += stride * count
            row_pass, row_index = row_pass + 1, 0

    try:
        for part in parts:
            pending: bytes | memoryview = part
            # Stop once past the expected size: a zlib bomb must not make us inflate gigabytes.
            while pending and not inflater.eof and done <= expected:
                out = inflater.decompress(pending, _INFLATE_STEP)
                pending = inflater.unconsumed_tail
                check_filters(out)
                done += len(out)
        while not inflater.eof and done <= expected:  # output zlib still holds back
            out = inflater.decompress(b"", _INFLATE_STEP)
            if not out:
                break
            check_filters(out)
            done += len(out)
    except zlib.error as e:
        raise _broken(f"{what} cannot be decompressed") from e
    # More data than rows is tolerated, as libpng and browsers do: it is never shown.
    if done < expected or (done == expected and not inflater.eof):
        raise _broken(f"{what} is cut off")


def check_data(data: bytes) -> None:
    """Every chunk CRC, then every image stream (IDAT, and each APNG frame's fdAT chunks)."""
    width, height, depth, colour, interlaced = _ihdr(data)
    bits = depth * _CHANNELS[colour]
    view = memoryview(data)
    idat: list[memoryview] = []
    frames: list[tuple[int, int, list[memoryview]]] = []
    seen_idat = seen_palette = idat_is_frame = False
    for ctype, start, end in chunks(data):
        body = view[start + 4 : end - 4]
        if zlib.crc32(body) != struct.unpack_from(">I", data, end - 4)[0]:
            raise _broken(f"the checksum of its {ctype.decode()!r} chunk is wrong")
        if ctype == b"IDAT":
            idat.append(view[start + 8 : end - 4])
            seen_idat = True
        elif ctype == b"fcTL" and end - start >= 38:
            fw, fh, fx, fy = struct.unpack_from(">IIII", data, start + 12)
            if fw == 0 or fh == 0 or fx + fw > width or fy + fh > height:
                raise _broken("an animation frame lies outside the image")
            if not seen_idat:
                idat_is_frame = True  # this frame is the IDAT image itself
                continue
            frames.append((fw, fh, []))
        elif ctype == b"fdAT":
            if not frames or end - start < 16:
                raise _broken("it has frame data without a frame header")
            frames[-1][2].append(view[start + 12 : end - 4])  # after the sequence number
        elif ctype == b"PLTE" and not seen_idat:
            if (end - start - 12) % 3:
                raise _broken("its palette has a broken size")
            seen_palette = True
    if not idat:
        raise _broken("it has no image data")
    if colour == 3 and not seen_palette:
        raise _broken("it has colour indexes but no palette")
    _check_stream(idat, _rows(width, height, bits, interlaced), "its image data")
    for number, (fw, fh, parts) in enumerate(frames, start=2 if idat_is_frame else 1):
        _check_stream(parts, _rows(fw, fh, bits, interlaced), f"animation frame {number}")
