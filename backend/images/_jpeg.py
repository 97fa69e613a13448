"""JPEG container: walking marker segments, finding where the image really ends, counting scans
and segments against the limits, and keeping only the segments a decoder uses (colour profile
only when it is one) without touching the entropy-coded data (so pixels stay bit-exact)."""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass

from backend.images import _icc, _limits
from backend.images import _metadata as md
from backend.images.errors import BrokenImage, UnsupportedType

SOI, EOI, SOS, COM = 0xD8, 0xD9, 0xDA, 0xFE
APP0, APP1, APP2, APP13, APP14 = 0xE0, 0xE1, 0xE2, 0xED, 0xEE
ECS = -1  # pseudo-marker: the entropy-coded data that follows an SOS header
_STANDALONE = frozenset([0x01, *range(0xD0, 0xD8)])  # TEM and RSTn carry no length
_SOF_BROWSERS_SHOW = frozenset([0xC0, 0xC1, 0xC2])  # baseline, extended, progressive (Huffman)
_SOF_OTHER = frozenset([0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF])

# Outside scans, decoders skip fill bytes (0xFF) and stuffed zeros (0xFF 0x00) as garbage. Inside
# entropy-coded data a 0xFF byte is followed by 0x00 (stuffing), a restart marker (0xD0-0xD7) or
# more fill bytes, so the first 0xFF followed by anything else starts the next real marker. The
# regexes scan in C, about 2 GB/s, instead of looking at every 0xFF from Python.
_MARKER = re.compile(rb"\xff[^\x00\xff]")
_MARKER_IN_SCAN = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")

_EXIF = b"Exif\x00\x00"
_XMP = b"http://ns.adobe.com/xap/1.0/\x00"
_XMP_EXTENSION = b"http://ns.adobe.com/xmp/extension/\x00"
_ICC = b"ICC_PROFILE\x00"
_ADOBE_SIZE = 12  # "Adobe", version, two flag words, colour transform
# What a decoder of the frames we accept reads besides APPn: frame header, tables, restart
# interval, scans. DAC (arithmetic coding, refused), DNL (a height we never accept as 0), the
# hierarchical and reserved markers mean nothing here and are dropped.
_TABLES = frozenset([*_SOF_BROWSERS_SHOW, 0xC4, 0xDB, 0xDD])  # SOFn, DHT, DQT, DRI


def _broken(detail: str) -> BrokenImage:
    return BrokenImage(f"This JPEG file is damaged or incomplete: {detail}.")


def segments(data: bytes) -> Iterator[tuple[int, int, int]]:
    """Yield (marker, start, end) for every segment after SOI, EOI included, then stop.

    After each SOS header comes an (ECS, start, end) entry for its entropy-coded data (fill
    bytes before the next marker included), computed only when the caller asks for it.
    Garbage between segments is skipped, as decoders skip it.
    """
    n = len(data)
    pos = 2
    while True:
        found = _MARKER.search(data, pos)
        if found is None:
            raise _broken("it ends before the end-of-image marker")
        start = found.start()
        marker, p = data[start + 1], start + 1
        if marker == EOI:
            yield marker, start, p + 1
            return
        if marker in _STANDALONE:
            yield marker, start, p + 1
            pos = p + 1
            continue
        if marker == SOI:
            raise _broken("it contains a second start-of-image marker")
        if p + 3 > n:
            raise _broken("a segment header is cut off")
        end = p + 1 + ((data[p + 1] << 8) | data[p + 2])
        if end > n or end < p + 3:
            raise _broken("a segment is cut off")
        yield marker, start, end
        pos = end
        if marker == SOS:
            found = _MARKER_IN_SCAN.search(data, end)
            if found is None:
                raise _broken("the image data ends before the end-of-image marker")
            pos = found.start()
            yield ECS, end, pos


@dataclass(frozen=True)
class Header:
    width: int  # as stored, before orientation
    height: int
    orientation: int


def probe(data: bytes, limits: _limits.Limits) -> Header:
    """Frame size and EXIF orientation from the segments before the first scan; the segments
    and scans of the whole file are counted against the limits before anything is decoded."""
    orientation = None
    size = None
    parts = scans = 0
    for marker, start, end in segments(data):
        if marker == ECS:
            continue
        parts += 1
        _limits.check_parts(parts, limits.max_chunks, "JPEG", "marker segments")
        if marker == SOS:
            scans += 1
            _limits.check_parts(scans, limits.max_scans, "JPEG", "scans")
        elif marker in _SOF_OTHER:
            raise UnsupportedType(
                "This JPEG uses a rare kind of compression (lossless, hierarchical or "
                "arithmetic-coded) that web browsers cannot show; please save it as a normal JPEG."
            )
        elif scans:
            continue  # decoders read the header segments before the first scan only
        elif marker == APP1 and orientation is None and data.startswith(_EXIF, start + 4):
            orientation = md.exif_orientation(data[start + 10 : end])  # decoders take the first
        elif marker in _SOF_BROWSERS_SHOW and size is None:
            if end - start < 10:
                raise _broken("its frame header is too short")
            _, height, width, components = struct.unpack_from(">BHHB", data, start + 4)
            if width == 0 or height == 0:
                raise _broken("its frame header gives no size")
            if components not in (1, 3, 4):
                raise _broken(f"it has {components} colour components")
            size = (width, height)
    if size is None:
        raise _broken("it has no frame header before its image data")
    return Header(size[0], size[1], orientation or 1)


def _is_icc(segments: list[bytes | memoryview]) -> bool:
    """Whether APP2 ICC_PROFILE segments (sequence number, count, data) make one real profile."""
    if any(len(s) < 18 or s[17] != len(segments) for s in segments):
        return False
    ordered = sorted(segments, key=lambda s: s[16])
    if [s[16] for s in ordered] != list(range(1, len(segments) + 1)):
        return False
    return _icc.is_profile(b"".join(s[18:] for s in ordered))


def _app_segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def orientation_segment(orientation: int) -> bytes:
    return _app_segment(APP1, _EXIF + md.orientation_tiff(orientation))


def _keep(marker: int, payload: bytes, removed: md.StrippedLabels) -> bool | bytes:
    """True to keep an APPn/COM segment as is, bytes to keep a rewritten payload, False to drop."""
    if marker == APP0:
        if payload.startswith(b"JFIF\x00") and len(payload) >= 14:
            if len(payload) == 14 and payload[12:14] == b"\x00\x00":
                return True
            removed.add(md.THUMBNAIL)  # JFIF may carry an uncompressed preview: keep the header
            return payload[:12] + b"\x00\x00"
        removed.add(md.THUMBNAIL if payload.startswith(b"JFXX\x00") else md.OTHER)
    elif marker == APP1:
        if payload.startswith(_EXIF):
            removed.add(*md.describe_exif(payload[6:]))
        elif payload.startswith((_XMP, _XMP_EXTENSION)):
            removed.add(*md.describe_xmp(payload))
        else:
            removed.add(md.OTHER)
    elif marker == APP2:
        if payload.startswith(_ICC):
            return True  # colours would shift without it (strip checks it is a real profile)
        removed.add(md.OTHER)  # MPF index of the extra images after EOI, FlashPix, ...
    elif marker == APP13:
        removed.add(md.IPTC if payload.startswith(b"Photoshop 3.0\x00") else md.OTHER)
    elif marker == APP14 and payload.startswith(b"Adobe") and len(payload) >= _ADOBE_SIZE:
        # Tells the decoder how CMYK/YCCK colours are transformed; nothing may follow its fields.
        return True if len(payload) == _ADOBE_SIZE else payload[:_ADOBE_SIZE]
    elif marker == COM:
        removed.add(md.COMMENT)
    else:
        removed.add(md.OTHER)
    return False


def strip(data: bytes, orientation: int, removed: md.StrippedLabels) -> bytes:
    view = memoryview(data)
    out: list[bytes | memoryview] = [view[:2]]
    orientation_at = 1  # right after SOI, or after a leading JFIF APP0 (JFIF wants to be first)
    end = 2
    rewritten = False
    icc: list[int] = []  # where the ICC_PROFILE segments are in `out`
    scanned = 0  # len(out) after the last scan: tables after it are never used
    for marker, start, end in segments(data):
        if marker == COM or 0xE0 <= marker <= 0xEF:
            keep = _keep(marker, data[start + 4 : end], removed)
            if keep is not False and scanned:  # decoders read them before the first scan only
                removed.add(md.OTHER)
                keep = False
            if keep is False:
                continue
            rewritten = rewritten or keep is not True
            out.append(view[start:end] if keep is True else _app_segment(marker, keep))
            if marker == APP0 and len(out) == 2:
                orientation_at = 2
            elif marker == APP2:
                icc.append(len(out) - 1)
        elif marker in _TABLES or marker in (SOS, ECS, EOI):
            out.append(view[start:end])
            scanned = len(out) if marker == ECS else scanned
        else:
            removed.add(md.OTHER)
    if icc and not _is_icc([out[i] for i in icc]):
        removed.add(md.OTHER)
        for i in icc:
            out[i] = b""
    if 0 < scanned < len(out) - 1:
        removed.add(md.OTHER)
        del out[scanned:-1]
    if end < len(data):
        removed.trailing(len(data) - end)  # e.g. the extra images of an MPF file, or a ZIP
    if orientation != 1:
        out.insert(orientation_at, orientation_segment(orientation))
    return md.rejoin(data, out, added=rewritten or orientation != 1)
