"""Small files that are expensive to decode, built in memory (Pillow plus byte surgery).

Shared by tests/backend/test_bombs.py and bench/bench_bombs.py. Each builder is deterministic.
"""

from __future__ import annotations

import io
import struct

from PIL import Image

from tests.backend import imagesamples

# The largest square a default server accepts (PICDROP_MAX_PIXELS = 50 million).
SIDE = 7071


def area_png(side: int = SIDE) -> bytes:
    """A transparent RGBA PNG of side x side pixels: ~200 KB that decode to 4 bytes a pixel."""
    return imagesamples.zero_png(side, side, bit_depth=8, colour_type=6, row_bytes=4 * side)


def screen_gif(side: int = SIDE) -> bytes:
    """A GIF of one 1x1 frame on a side x side logical screen: ~45 bytes."""
    out = io.BytesIO()
    Image.new("P", (1, 1)).save(out, "GIF")
    gif = bytearray(out.getvalue())
    struct.pack_into("<HH", gif, 6, side, side)
    return bytes(gif)


def _riff(chunks: bytes) -> bytes:
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WEBP" + chunks


def _webp_chunk(fourcc: bytes, payload: bytes) -> bytes:
    return fourcc + struct.pack("<I", len(payload)) + payload + b"\0" * (len(payload) & 1)


def _u24(n: int) -> bytes:
    return n.to_bytes(3, "little")


def canvas_webp(side: int = SIDE, frames: int = 1) -> bytes:
    """An animated WebP of `frames` 1x1 frames on a side x side canvas: each frame decodes to the
    whole canvas (4 bytes a pixel)."""
    out = io.BytesIO()
    Image.new("RGBA", (1, 1), (200, 0, 0, 255)).save(out, "WEBP", lossless=True)
    still = out.getvalue()
    bitstream = still[12:]  # the VP8L chunk, header included
    anmf = _u24(0) + _u24(0) + _u24(0) + _u24(0) + _u24(100) + b"\0" + bitstream
    body = (
        _webp_chunk(b"VP8X", b"\x12\0\0\0" + _u24(side - 1) + _u24(side - 1))
        + _webp_chunk(b"ANIM", b"\0\0\0\0\0\0")
        + _webp_chunk(b"ANMF", anmf) * frames
    )
    return _riff(body)


def frames_gif(frames: int = 500, side: int = 1000) -> bytes:
    """`frames` 1x1 frames on a side x side screen: each is composited onto the whole screen."""
    out = io.BytesIO()
    Image.new("P", (1, 1)).save(out, "GIF")
    single = out.getvalue()
    header_end = 13 + (3 << ((single[10] & 7) + 1) if single[10] & 0x80 else 0)
    image = single[header_end:-1]  # from the image descriptor to before the trailer
    loop = b"\x21\xff\x0bNETSCAPE2.0\x03\x01\0\0\0"
    control = b"\x21\xf9\x04\x00\x01\x00\x00\x00"  # 1/100 s a frame
    gif = bytearray(single[:header_end] + loop + (control + image) * frames + b";")
    struct.pack_into("<HH", gif, 6, side, side)
    return bytes(gif)


def _scans(jpeg: bytes) -> tuple[int, list[tuple[int, int]]]:
    """(offset of the first SOS, [(start, end) of each scan: SOS header and its data])."""
    pos, scans, first = 2, [], None
    while pos < len(jpeg):
        marker = jpeg[pos + 1]
        if marker == 0xD9:
            break
        length = struct.unpack_from(">H", jpeg, pos + 2)[0]
        end = pos + 2 + length
        if marker == 0xDA:
            first = pos if first is None else first
            while not (jpeg[end] == 0xFF and jpeg[end + 1] not in (0, *range(0xD0, 0xD8))):
                end += 1
            scans.append((pos, end))
        pos = end
    assert first is not None
    return first, scans


def scan_jpeg(side: int = 2048, copies: int = 300) -> bytes:
    """A progressive JPEG whose last scan is repeated `copies` times: every copy walks every block
    of the image again, so the decode costs `copies` times a scan's worth of CPU."""
    out = io.BytesIO()
    Image.new("RGB", (side, side), (120, 80, 40)).save(out, "JPEG", progressive=True, quality=90)
    jpeg = out.getvalue()
    _first, scans = _scans(jpeg)
    start, end = scans[-1]
    return jpeg[:end] + jpeg[start:end] * copies + jpeg[end:]


def large_jpeg(seed: int = 0) -> bytes:
    """A real 12-megapixel photo: what a thumbnail storm asks for."""
    out = io.BytesIO()
    imagesamples.photo((4000, 3000), seed=seed).save(out, "JPEG", quality=90)
    return out.getvalue()
