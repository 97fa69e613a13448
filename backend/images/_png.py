"""PNG and APNG container: chunk walking, header and chunk-count limits, metadata chunk removal
(kept chunks only at their size for the colour type, image data cut to its exact zlib stream),
and a streaming check of the compressed image data (CRCs, zlib, sizes, filter bytes)."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from backend.images import _icc, _limits
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
# Kept chunks that are only ever about one thing, each of exactly this many bytes: anything more
# or less is not what the chunk claims to be (and could carry anything).
_FIXED_SIZE = {
    b"cHRM": 32,
    b"gAMA": 4,
    b"sRGB": 1,
    b"pHYs": 9,
    b"cICP": 4,
    b"mDCV": 24,
    b"cLLI": 8,
    b"acTL": 8,
    b"fcTL": 26,
}
_SIZE_BY_COLOUR = {  # colour type -> size; colour types missing here may not have the chunk
    b"bKGD": {0: 2, 2: 6, 3: 1, 4: 2, 6: 6},
    b"sBIT": {0: 1, 2: 3, 3: 3, 4: 2, 6: 4},
    b"tRNS": {0: 2, 2: 6},  # colour 3: one byte per palette entry at most
}
_REPEATED = frozenset([b"IDAT", b"fcTL", b"fdAT"])  # every other kept chunk appears once
_ICC_MAX = 1 << 24  # the largest colour profile we inflate: real ones are at most a few MB
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
    for parts, (ctype, start, end) in enumerate(chunks(data), start=1):
        _limits.check_parts(parts, limits.max_chunks, "PNG", "chunks")
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


def _icc_profile_chunk(payload: bytes | memoryview) -> bool:
    """iCCP: a 1-79 byte name, a zero, compression method 0, then exactly one zlib stream
    holding a real profile."""
    name_end = bytes(payload[:81]).find(b"\x00")
    if not 1 <= name_end <= 79 or len(payload) < name_end + 2 or payload[name_end + 1] != 0:
        return False
    inflater = zlib.decompressobj()
    try:
        profile = inflater.decompress(payload[name_end + 2 :], _ICC_MAX)
    except zlib.error:
        return False
    return inflater.eof and not inflater.unused_data and _icc.is_profile(profile)


def _valid(ctype: bytes, payload: memoryview, depth: int, colour: int, palette: int) -> bool:
    """Whether a kept chunk is what it claims: its size for the colour type and bit depth."""
    size = len(payload)
    if ctype in _FIXED_SIZE:
        return size == _FIXED_SIZE[ctype]
    if ctype == b"tRNS" and colour == 3:
        return 0 < size <= palette
    if ctype in _SIZE_BY_COLOUR:
        return size == _SIZE_BY_COLOUR[ctype].get(colour)
    if ctype == b"hIST":
        return size == 2 * palette > 0
    if ctype == b"iCCP":
        return _icc_profile_chunk(payload)
    if ctype == b"PLTE":  # only indexed images use one (a "suggested" palette is never shown)
        return colour == 3 and 0 < size <= 3 << depth and size % 3 == 0
    return True  # IHDR (checked by _ihdr), the image data and frame data (checked by streams)


def strip(data: bytes, orientation: int, removed: md.StrippedLabels) -> bytes:
    """Drop metadata chunks and kept chunks that are not what they claim; cut every image
    stream (IDAT, each frame's fdAT) to its exact zlib stream."""
    _, _, depth, colour, _ = _ihdr(data)
    cut = _stream_cuts(data)
    view = memoryview(data)
    out: list[bytes | memoryview] = [view[: len(SIGNATURE)]]
    end = len(SIGNATURE)
    seen: set[bytes] = set()
    palette = 0
    for ctype, start, end in chunks(data):
        payload = view[start + 8 : end - 4]
        if start in cut:
            if not _crc_ok(data, start, end):
                raise _broken(f"the checksum of its {ctype.decode()!r} chunk is wrong")
            data_end = cut[start]
            removed.trailing(end - 4 - data_end)
            if ctype == b"fdAT" or data_end > start + 8:  # fdAT keeps its sequence number
                out.append(_chunk(ctype, data[start + 8 : data_end]))
        elif ctype not in _KEEP:
            _describe(ctype, payload, removed)
        elif ctype == b"IEND" and payload:  # the end chunk is empty; bytes in it are trailing
            removed.trailing(len(payload))
            out.append(_chunk(b"IEND", b""))
        elif (ctype in seen and ctype not in _REPEATED) or not _valid(
            ctype, payload, depth, colour, palette
        ):
            if ctype == b"PLTE" and colour == 3:
                raise _broken("its palette is broken or given twice")
            removed.add(md.OTHER)
        else:
            seen.add(ctype)
            palette = len(payload) // 3 if ctype == b"PLTE" else palette
            out.append(view[start:end])
            if ctype == b"IHDR" and orientation != 1:
                # Only one eXIf is allowed, before the image data: right after IHDR is safe.
                out.append(_chunk(b"eXIf", md.orientation_tiff(orientation)))
    if end < len(data):
        removed.trailing(len(data) - end)
    return md.rejoin(data, out, added=any(isinstance(part, bytes) for part in out))


def _describe(ctype: bytes, payload: memoryview, removed: md.StrippedLabels) -> None:
    if ctype in (b"tEXt", b"zTXt", b"iTXt"):
        removed.add(*_describe_text(ctype, bytes(payload)))
    elif ctype == b"eXIf":
        removed.add(*md.describe_exif(bytes(payload)))
    elif ctype == b"tIME":
        removed.add(md.TIME)
    else:
        removed.add(md.OTHER)


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


@dataclass(frozen=True)
class _Stream:
    """One zlib stream of image data: the IDAT chunks, or one APNG frame's fdAT chunks."""

    what: str  # for messages: "its image data", "animation frame 2"
    rows: list[tuple[int, int]]
    spans: list[tuple[int, int, int]]  # (chunk start, data start, data end) of each chunk


def _streams(data: bytes) -> list[_Stream]:
    width, height, depth, colour, interlaced = _ihdr(data)
    bits = depth * _CHANNELS[colour]
    idat: list[tuple[int, int, int]] = []
    frames: list[tuple[int, int, list[tuple[int, int, int]]]] = []
    seen_palette = idat_is_frame = False
    for ctype, start, end in chunks(data):
        if ctype == b"IDAT":
            idat.append((start, start + 8, end - 4))
        elif ctype == b"fcTL" and end - start >= 38:
            fw, fh, fx, fy = struct.unpack_from(">IIII", data, start + 12)
            if fw == 0 or fh == 0 or fx + fw > width or fy + fh > height:
                raise _broken("an animation frame lies outside the image")
            if not idat:
                idat_is_frame = True  # this frame is the IDAT image itself
                continue
            frames.append((fw, fh, []))
        elif ctype == b"fdAT":
            if not frames or end - start < 16:
                raise _broken("it has frame data without a frame header")
            frames[-1][2].append((start, start + 12, end - 4))  # after the sequence number
        elif ctype == b"PLTE" and not idat:
            if (end - start - 12) % 3:
                raise _broken("its palette has a broken size")
            seen_palette = True
    if not idat:
        raise _broken("it has no image data")
    if colour == 3 and not seen_palette:
        raise _broken("it has colour indexes but no palette")
    streams = [_Stream("its image data", _rows(width, height, bits, interlaced), idat)]
    for number, (fw, fh, spans) in enumerate(frames, start=2 if idat_is_frame else 1):
        streams.append(_Stream(f"animation frame {number}", _rows(fw, fh, bits, interlaced), spans))
    return streams


def _stream_end(view: memoryview, stream: _Stream) -> tuple[int, int]:
    """Inflate one image stream in bounded steps; check it is complete and no longer than its
    rows, its adler32 is right (zlib checks it at the end) and every row starts with a valid
    filter type (0-4). Returns which span the zlib stream ends in, and where in the file."""
    rows, what = stream.rows, stream.what
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

    def inflate(compressed: bytes | memoryview) -> int:
        """Feed (part of) the input; how much output it gave. Stops past the expected size:
        a zlib bomb must not make us inflate gigabytes, and rows beyond the image can carry
        anything, so they are refused rather than kept."""
        nonlocal done
        out = inflater.decompress(compressed, _INFLATE_STEP)
        check_filters(out)
        done += len(out)
        if done > expected:
            raise _broken(f"{what} holds more than the image")
        return len(out)

    index = -1
    try:
        while not inflater.eof and index + 1 < len(stream.spans):
            index += 1
            _, first, last = stream.spans[index]
            pending: bytes | memoryview = view[first:last]
            while pending and not inflater.eof:
                inflate(pending)
                pending = inflater.unconsumed_tail
        while not inflater.eof and inflate(b""):  # output zlib still holds back
            pass
    except zlib.error as e:
        raise _broken(f"{what} cannot be decompressed") from e
    if done < expected or not inflater.eof:
        raise _broken(f"{what} is cut off")
    return index, stream.spans[index][2] - len(inflater.unused_data)


def _crc_ok(data: bytes, start: int, end: int) -> bool:
    return (
        zlib.crc32(memoryview(data)[start + 4 : end - 4])
        == struct.unpack_from(">I", data, end - 4)[0]
    )


def _stream_cuts(data: bytes) -> dict[int, int]:
    """Chunk start -> where its kept data ends, for the image-data chunks that hold bytes after
    the end of their zlib stream (their checksum included)."""
    view = memoryview(data)
    cuts = {}
    for stream in _streams(data):
        index, stop = _stream_end(view, stream)
        chunk_start, _, data_end = stream.spans[index]
        if stop < data_end:
            cuts[chunk_start] = stop
        for chunk_start, data_start, _ in stream.spans[index + 1 :]:
            cuts[chunk_start] = data_start
    return cuts


def check_data(data: bytes) -> None:
    """Every chunk CRC, then every image stream (IDAT, and each APNG frame's fdAT chunks)."""
    for ctype, start, end in chunks(data):
        if not _crc_ok(data, start, end):
            raise _broken(f"the checksum of its {ctype.decode()!r} chunk is wrong")
    view = memoryview(data)
    for stream in _streams(data):
        _stream_end(view, stream)
