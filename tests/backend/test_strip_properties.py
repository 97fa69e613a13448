"""Property: a payload put anywhere in an image's structure never reaches the stored bytes.

Random bytes around a recognisable marker are inserted at every structural position of every
format: as segments, chunks and extensions between the others, inside the structures the
strippers keep, in extension sub-blocks, after the end marker. Each time the upload is either
refused, or stored without the marker and with the very pixels of the image it was put into.

Not covered, because it is not the container's to remove: bytes inside entropy-coded or
compressed image data (after the last code of a JPEG scan, after a GIF frame's LZW end code,
at the end of a VP8/VP8L bitstream), which only a re-encode removes.
"""

from __future__ import annotations

import functools
import struct
import zlib
from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.images import ImageRejected, Limits, process
from tests.backend import imagesamples as samples

LIMITS = Limits()
# Longer than any fixed-size structure a format keeps (cHRM's 32 bytes is the longest), so the
# marker can only survive inside something variable that was kept.
MARKER = b"<html><script>alert('picdrop payload 7f3a')</script></html>"
PROPERTY = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@functools.cache
def _pixels(build: Callable[[], bytes]) -> list[tuple[str, tuple[int, int], bytes]]:
    return samples.frames_pixels(build())


def payloads(*, no_ff: bool = False) -> st.SearchStrategy[bytes]:
    """Random bytes, the marker, random bytes; no_ff: no 0xFF byte (JPEG garbage stays garbage:
    with one it would be a segment, and segments are inserted as such)."""
    noise = st.binary(max_size=40)
    if no_ff:
        noise = noise.map(lambda b: b.replace(b"\xff", b"\xfe"))
    return st.tuples(noise, noise).map(lambda ends: ends[0] + MARKER + ends[1])


def assert_refused_or_clean(data: bytes, build: Callable[[], bytes]) -> None:
    assert MARKER in data
    try:
        stored = process(data, LIMITS).data
    except ImageRejected:
        return
    assert MARKER not in stored
    assert samples.frames_pixels(stored) == _pixels(build)


def _insert(data: bytes, at: int, piece: bytes) -> bytes:
    return data[:at] + piece + data[at:]


# -- JPEG ------------------------------------------------------------------------------------

JPEGS = (samples.plain_jpeg, samples.progressive_jpeg, samples.restart_marker_jpeg)
# APPn, COM, and markers that are not APPn and mean nothing in the JPEGs we accept: DAC, DNL,
# DHP, EXP, JPGn, reserved.
SEGMENT_MARKERS = (*range(0xE0, 0xF0), 0xFE, 0xCC, 0xDC, 0xDE, 0xDF, *range(0xF0, 0xFE), 0x02)


def jpeg_boundaries(jpeg: bytes) -> tuple[list[int], list[int]]:
    """Segment starts before the first scan (walking lengths), then each scan's and EOI's."""
    header, pos = [], 2
    while jpeg[pos + 1] != 0xDA:
        header.append(pos)
        pos += 2 + struct.unpack_from(">H", jpeg, pos + 2)[0]
    scans, at = [], pos
    while at >= 0:
        scans.append(at)
        at = jpeg.find(b"\xff\xda", at + 2)  # 0xFF 0xDA cannot occur inside scan data
    return [*header, pos], [*scans[1:], len(jpeg) - 2]


def _jpeg_case(draw: st.DrawFn) -> tuple[bytes, Callable[[], bytes]]:
    build = draw(st.sampled_from(JPEGS))
    jpeg = build()
    header, later = jpeg_boundaries(jpeg)
    where = draw(st.sampled_from(["segment", "garbage", "jfif", "icc", "after-eoi"]))
    if where == "segment":
        marker = draw(st.sampled_from(SEGMENT_MARKERS))
        at = draw(st.sampled_from(header + later))
        return _insert(jpeg, at, samples.jpeg_segment(marker, draw(payloads()))), build
    if where == "garbage":  # between the header segments, where decoders skip bytes too
        return _insert(jpeg, draw(st.sampled_from(header)), draw(payloads(no_ff=True))), build
    if where == "jfif":  # fields, then more bytes in the JFIF segment (it must stay first)
        assert jpeg[2:4] == b"\xff\xe0"
        end = 4 + struct.unpack_from(">H", jpeg, 4)[0]
        return samples.jpeg_segment(0xE0, jpeg[6:end] + draw(payloads())).join(
            [jpeg[:2], jpeg[end:]]
        ), build
    if where == "icc":
        seq, count = draw(st.integers(0, 3)), draw(st.integers(0, 3))
        body = b"ICC_PROFILE\x00" + bytes([seq, count]) + draw(payloads())
        return _insert(jpeg, draw(st.sampled_from(header)), samples.jpeg_segment(0xE2, body)), build
    return jpeg + draw(payloads()), build


@PROPERTY
@given(st.data())
def test_jpeg_payloads_never_survive(data: st.DataObject) -> None:
    image, build = _jpeg_case(data.draw)
    assert_refused_or_clean(image, build)


@PROPERTY
@given(payloads())
def test_jpeg_adobe_segment_payload_never_survives(payload: bytes) -> None:
    cmyk = samples.cmyk_jpeg()
    start = cmyk.index(b"\xff\xeeAdobe"[:2])
    end = start + 2 + struct.unpack_from(">H", cmyk, start + 2)[0]
    image = cmyk[:start] + samples.jpeg_segment(0xEE, cmyk[start + 4 : end] + payload) + cmyk[end:]
    assert_refused_or_clean(image, samples.cmyk_jpeg)


# -- PNG -------------------------------------------------------------------------------------

PNGS = (
    samples.plain_png,
    samples.palette_png_with_transparency,
    samples.interlaced_png,
    samples.animated_png,
)
# Every chunk the stripper keeps (but the image data), metadata chunks, and unknown ones.
PNG_TYPES = (
    *b"PLTE tRNS cHRM gAMA iCCP sBIT sRGB cICP mDCV cLLI bKGD hIST pHYs acTL fcTL".split(),
    *b"tEXt zTXt iTXt eXIf tIME prIv sPLT IEND".split(),
)


def png_boundaries(png: bytes) -> list[int]:
    """Chunk starts after IHDR, IEND's included."""
    out, pos = [], 33
    while True:
        out.append(pos)
        length, ctype = struct.unpack_from(">I4s", png, pos)
        if ctype == b"IEND":
            return out
        pos += 12 + length


def _png_case(draw: st.DrawFn) -> tuple[bytes, Callable[[], bytes]]:
    build = draw(st.sampled_from(PNGS))
    png = build()
    where = draw(st.sampled_from(["chunk", "iccp", "idat-tail", "idat-chunk", "iend", "after"]))
    payload = draw(payloads())
    if where == "chunk":
        chunk = samples.png_chunk(draw(st.sampled_from(PNG_TYPES)), payload)
        return _insert(png, draw(st.sampled_from(png_boundaries(png))), chunk), build
    if where == "iccp":  # stored (uncompressed) deflate: the payload is there as it is
        body = b"icc\x00\x00" + zlib.compress(payload, 0)
        return samples.png_with_chunk(b"iCCP", body, png), build
    if where in ("idat-tail", "idat-chunk"):
        return samples.png_with_idat_extra(payload, own_chunk=where == "idat-chunk", png=png), build
    if where == "iend":
        return png[:-12] + samples.png_chunk(b"IEND", payload), build
    return png + payload, build


@PROPERTY
@given(st.data())
def test_png_payloads_never_survive(data: st.DataObject) -> None:
    image, build = _png_case(data.draw)
    assert_refused_or_clean(image, build)


# -- WebP ------------------------------------------------------------------------------------

WEBPS = (
    lambda: samples.still_webp(metadata=True),
    lambda: samples.still_webp(),
    lambda: samples.animated_webp(metadata=False),
)
WEBP_TYPES = (b"ICCP", b"ANIM", b"EXIF", b"XMP ", b"ALPH", b"VP8X", b"prIv", b"ANMF")


def _webp_case(draw: st.DrawFn) -> tuple[bytes, Callable[[], bytes]]:
    build = draw(st.sampled_from(WEBPS))
    chunks = [chunk for _, chunk in samples.webp_chunks(build())]
    payload = draw(payloads())
    where = draw(st.sampled_from(["chunk", "in-frame", "after"]))
    if where == "chunk":
        at = draw(st.integers(1, len(chunks)))
        chunks.insert(at, samples.riff_chunk(draw(st.sampled_from(WEBP_TYPES)), payload))
    elif where == "in-frame" and chunks[-1].startswith(b"ANMF"):
        frame = chunks[-1]
        body = frame[8 : 8 + struct.unpack_from("<I", frame, 4)[0]]
        body += b"\x00" * (len(body) & 1)
        chunks[-1] = samples.riff_chunk(b"ANMF", body + samples.riff_chunk(b"prIv", payload))
    else:
        return samples.riff(*chunks) + payload, build
    return samples.riff(*chunks), build


@PROPERTY
@given(st.data())
def test_webp_payloads_never_survive(data: st.DataObject) -> None:
    image, build = _webp_case(data.draw)
    assert_refused_or_clean(image, build)


# -- GIF -------------------------------------------------------------------------------------

GIFS = (lambda: samples.animated_gif(metadata=False), samples.still_gif)
APPLICATIONS = (b"NETSCAPE2.0", b"ANIMEXTS1.0", b"XMP DataXMP", b"ICCRGBG1012", b"MGK8BIM0000")


def gif_boundaries(gif: bytes) -> list[int]:
    """Block starts after the header and global colour table, the trailer's included."""
    pos = 13 + (3 << ((gif[10] & 7) + 1) if gif[10] & 0x80 else 0)
    out = []
    while True:
        out.append(pos)
        if gif[pos] == 0x3B:
            return out
        if gif[pos] == 0x21:
            pos += 2
        else:
            packed = gif[pos + 9]
            pos += 11 + (3 << ((packed & 7) + 1) if packed & 0x80 else 0)
        while gif[pos]:
            pos += gif[pos] + 1
        pos += 1


def sub_blocks(data: bytes, size: int) -> bytes:
    pieces = [data[i : i + size] for i in range(0, len(data), size)]
    return b"".join(bytes([len(p)]) + p for p in pieces)


def payload_sub_blocks(draw: st.DrawFn) -> bytes:
    """Noise in sub-blocks of a random size, then the payload whole in one (at most 255 bytes:
    split, it would not be a payload)."""
    noise = sub_blocks(draw(st.binary(max_size=30)), draw(st.integers(1, 255)))
    return noise + sub_blocks(draw(payloads()), 255)


def _gif_case(draw: st.DrawFn) -> tuple[bytes, Callable[[], bytes]]:
    build = draw(st.sampled_from(GIFS))
    gif = build()
    blocks = payload_sub_blocks(draw)
    where = draw(st.sampled_from(["extension", "application", "after-loop", "after-control"]))
    at = draw(st.sampled_from(gif_boundaries(gif)))
    if where == "extension":  # comment, plain text, unknown labels
        label = draw(st.sampled_from([0xFE, 0x01, 0x02, 0xF8]))
        return _insert(gif, at, bytes([0x21, label]) + blocks + b"\x00"), build
    if where == "application":
        app = b"!\xff\x0b" + draw(st.sampled_from(APPLICATIONS))
        return _insert(gif, at, app + blocks + b"\x00"), build
    # Sub-blocks after the one an extension is made of: NETSCAPE2.0's loop, a frame's timing.
    kind = b"!\xff\x0bNETSCAPE2.0" if where == "after-loop" else b"!\xf9"
    start = gif.find(kind)
    if start < 0:
        return gif + blocks, build
    end = start + len(kind) + 1 + gif[start + len(kind)]
    return _insert(gif, end, blocks), build


@PROPERTY
@given(st.data())
def test_gif_payloads_never_survive(data: st.DataObject) -> None:
    image, build = _gif_case(data.draw)
    assert_refused_or_clean(image, build)
