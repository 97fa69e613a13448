"""JPEG container: walking marker segments, finding where the image really ends, and dropping
metadata segments without touching the entropy-coded data (so pixels stay bit-exact)."""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass

from backend.images import _metadata as md
from backend.images.errors import BrokenImage, UnsupportedType

SOI, EOI, SOS, COM = 0xD8, 0xD9, 0xDA, 0xFE
APP0, APP1, APP2, APP13, APP14 = 0xE0, 0xE1, 0xE2, 0xED, 0xEE
ECS = -1  # pseudo-marker: the entropy-coded data that follows an SOS header
_STANDALONE = frozenset([0x01, *range(0xD0, 0xD8)])  # TEM and RSTn carry no length
_SOF_BROWSERS_SHOW = frozenset([0xC0, 0xC1, 0xC2])  # baseline, extended, progressive (Huffman)
_SOF_OTHER = frozenset([0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF])

# Inside entropy-coded data a 0xFF byte is always followed by 0x00 (stuffing) or a restart marker
# (0xD0-0xD7), so the first 0xFF followed by anything else starts the next real marker. The regex
# scans in C, about 2 GB/s, instead of looking at every 0xFF from Python.
_MARKER_IN_SCAN = re.compile(rb"\xff[^\x00\xd0-\xd7]")

_EXIF = b"Exif\x00\x00"
_XMP = b"http://ns.adobe.com/xap/1.0/\x00"
_XMP_EXTENSION = b"http://ns.adobe.com/xmp/extension/\x00"


def _broken(detail: str) -> BrokenImage:
    return BrokenImage(f"This JPEG file is damaged or incomplete: {detail}.")


def segments(data: bytes) -> Iterator[tuple[int, int, int]]:
    """Yield (marker, start, end) for every segment after SOI, EOI included, then stop.

    After each SOS header comes an (ECS, start, end) entry for its entropy-coded data, computed
    only when the caller asks for it (probe stops at the first SOS and never pays for the scan).
    Fill bytes and garbage between segments are skipped, as decoders skip them.
    """
    n = len(data)
    pos = 2
    while True:
        ff = data.find(b"\xff", pos)
        p = ff + 1
        while 0 < p < n and data[p] == 0xFF:
            p += 1
        if ff < 0 or p >= n:
            raise _broken("it ends before the end-of-image marker")
        marker, start = data[p], p - 1
        if marker == 0x00:  # a stuffed byte outside a scan: garbage, skip it
            pos = p + 1
            continue
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
            pos = _scan_end(data, end)
            yield ECS, end, pos


def _scan_end(data: bytes, pos: int) -> int:
    """Where the entropy-coded data starting at pos ends: at the next real marker."""
    n = len(data)
    while True:
        m = _MARKER_IN_SCAN.search(data, pos)
        if m is None:
            raise _broken("the image data ends before the end-of-image marker")
        q = m.start() + 1
        while q < n and data[q] == 0xFF:  # fill bytes may precede a marker
            q += 1
        if q >= n:
            raise _broken("the image data ends before the end-of-image marker")
        if data[q] != 0x00 and not 0xD0 <= data[q] <= 0xD7:
            return m.start()
        pos = q + 1


@dataclass(frozen=True)
class Header:
    width: int  # as stored, before orientation
    height: int
    orientation: int


def probe(data: bytes) -> Header:
    """Frame size and EXIF orientation from the segments before the first scan."""
    orientation = None
    size = None
    for marker, start, end in segments(data):
        payload = data[start + 4 : end]
        if marker == APP1 and orientation is None and payload.startswith(_EXIF):
            orientation = md.exif_orientation(payload[6:])  # decoders honour the first one
        elif marker in _SOF_OTHER:
            raise UnsupportedType(
                "This JPEG uses a rare kind of compression (lossless, hierarchical or "
                "arithmetic-coded) that web browsers cannot show; please save it as a normal JPEG."
            )
        elif marker in _SOF_BROWSERS_SHOW and size is None:
            if len(payload) < 6:
                raise _broken("its frame header is too short")
            _, height, width, components = struct.unpack_from(">BHHB", payload)
            if width == 0 or height == 0:
                raise _broken("its frame header gives no size")
            if components not in (1, 3, 4):
                raise _broken(f"it has {components} colour components")
            size = (width, height)
        elif marker in (SOS, EOI):
            break
    if size is None:
        raise _broken("it has no frame header before its image data")
    return Header(size[0], size[1], orientation or 1)


def _app_segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def orientation_segment(orientation: int) -> bytes:
    return _app_segment(APP1, _EXIF + md.orientation_tiff(orientation))


def _keep(marker: int, payload: bytes, removed: md.Removed) -> bool | bytes:
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
        if payload.startswith(b"ICC_PROFILE\x00"):
            return True  # colours would shift without it
        removed.add(md.OTHER)  # MPF index of the extra images after EOI, FlashPix, ...
    elif marker == APP13:
        removed.add(md.IPTC if payload.startswith(b"Photoshop 3.0\x00") else md.OTHER)
    elif marker == APP14 and payload.startswith(b"Adobe"):
        return True  # tells the decoder how CMYK/YCCK colours are transformed
    elif marker == COM:
        removed.add(md.COMMENT)
    else:
        removed.add(md.OTHER)
    return False


def strip(data: bytes, orientation: int, removed: md.Removed) -> bytes:
    view = memoryview(data)
    out: list[bytes | memoryview] = [view[:2]]
    orientation_at = 1  # right after SOI, or after a leading JFIF APP0 (JFIF wants to be first)
    end = 2
    rewritten = False
    for marker, start, end in segments(data):
        if marker == COM or 0xE0 <= marker <= 0xEF:
            keep = _keep(marker, data[start + 4 : end], removed)
            if keep is False:
                continue
            rewritten = rewritten or keep is not True
            out.append(view[start:end] if keep is True else _app_segment(marker, keep))
            if marker == APP0 and len(out) == 2:
                orientation_at = 2
        else:
            out.append(view[start:end])
    if end < len(data):
        removed.trailing(len(data) - end)  # e.g. the extra images of an MPF file, or a ZIP
    if orientation != 1:
        out.insert(orientation_at, orientation_segment(orientation))
    return md.rejoin(data, out, added=rewritten or orientation != 1)
