"""Reading EXIF/XMP just enough to tell people what was removed, the one tag we keep, and what
the format strippers share (the StrippedLabels collector, rejoining the kept pieces).

Nothing here raises on malformed metadata: metadata is dropped either way, and a damaged EXIF
block only means a vaguer label ("EXIF data").
"""

from __future__ import annotations

import struct

ORIENTATION_TAG = 0x0112

GPS = "GPS location"
CAMERA = "camera make and model"
SERIAL = "camera serial number"
MAKER_NOTES = "camera maker notes"
DATE = "date taken"
NAMES = "owner and author names"
UNIQUE_ID = "unique image ID"
DESCRIPTION = "description"
THUMBNAIL = "embedded thumbnail"
EXIF = "EXIF data"
XMP = "XMP metadata"
IPTC = "IPTC metadata"
COMMENT = "comment"
TEXT = "text chunks"
TIME = "modification time"
OTHER = "other metadata"

# The order the desktop app shows them in: most sensitive first.
_ORDER = (
    GPS,
    CAMERA,
    SERIAL,
    MAKER_NOTES,
    DATE,
    NAMES,
    UNIQUE_ID,
    DESCRIPTION,
    THUMBNAIL,
    EXIF,
    XMP,
    IPTC,
    COMMENT,
    TEXT,
    TIME,
    OTHER,
)

_IFD0_LABELS = {
    0x010F: CAMERA,  # Make
    0x0110: CAMERA,  # Model
    0x0132: DATE,  # DateTime
    0x013B: NAMES,  # Artist
    0x8298: NAMES,  # Copyright
    0x010E: DESCRIPTION,  # ImageDescription
    0x8825: GPS,  # GPS IFD pointer
}
_EXIF_IFD_LABELS = {
    0x9003: DATE,  # DateTimeOriginal
    0x9004: DATE,  # DateTimeDigitized
    0xA430: NAMES,  # CameraOwnerName
    0xA431: SERIAL,  # BodySerialNumber
    0xA435: SERIAL,  # LensSerialNumber
    0xA433: CAMERA,  # LensMake
    0xA434: CAMERA,  # LensModel
    0x927C: MAKER_NOTES,  # MakerNote
    0x9286: DESCRIPTION,  # UserComment
    0xA420: UNIQUE_ID,  # ImageUniqueID
}
_EXIF_IFD_POINTER = 0x8769

_XMP_HINTS = (
    (b"GPSLatitude", GPS),
    (b"GPSLongitude", GPS),
    (b"tiff:Make", CAMERA),
    (b"tiff:Model", CAMERA),
    (b"SerialNumber", SERIAL),
    (b"DateTimeOriginal", DATE),
    (b"xmp:CreateDate", DATE),
    (b"photoshop:DateCreated", DATE),
    (b"dc:creator", NAMES),
    (b"ImageUniqueID", UNIQUE_ID),
)


def rejoin(data: bytes, parts: list[bytes | memoryview], *, added: bool) -> bytes:
    """A stripper's kept pieces of `data` (slices, in order) as one bytes object. `added`: a piece
    is new or rewritten. `data` itself when nothing was dropped or added: no second copy of a
    big image in memory."""
    if not added and sum(len(p) for p in parts) == len(data):
        return data
    return b"".join(parts)


class StrippedLabels:
    """Collects labels once each and returns them in a stable, most-sensitive-first order."""

    def __init__(self) -> None:
        self._labels: set[str] = set()
        self._trailing = 0

    def add(self, *labels: str) -> None:
        self._labels.update(labels)

    def trailing(self, nbytes: int) -> None:
        self._trailing += nbytes

    def labels(self) -> tuple[str, ...]:
        ordered = sorted(self._labels, key=lambda s: _ORDER.index(s) if s in _ORDER else 99)
        if self._trailing:
            ordered.append(f"trailing data ({self._trailing} bytes)")
        return tuple(ordered)


class _Tiff:
    """Bounds-checked reader of a TIFF structure (the body of an EXIF block)."""

    def __init__(self, data: bytes) -> None:
        if data.startswith(b"Exif\x00\x00"):  # PNG eXIf / WebP EXIF sometimes keep the JPEG prefix
            data = data[6:]
        self.data = data
        order = data[:2]
        if order == b"II":
            self.e = "<"
        elif order == b"MM":
            self.e = ">"
        else:
            raise ValueError("no TIFF byte order")
        if self._u16(2) != 42:
            raise ValueError("no TIFF magic")

    def _u16(self, pos: int) -> int:
        return struct.unpack_from(self.e + "H", self.data, pos)[0]

    def _u32(self, pos: int) -> int:
        return struct.unpack_from(self.e + "I", self.data, pos)[0]

    def first_ifd(self) -> int:
        return self._u32(4)

    def entries(self, offset: int) -> tuple[dict[int, int], int]:
        """Tags of the IFD at offset -> position of their 4-byte value field; next IFD offset."""
        n = self._u16(offset)
        if offset + 2 + 12 * n + 4 > len(self.data):
            raise ValueError("IFD past the end")
        tags = {}
        for i in range(n):
            pos = offset + 2 + 12 * i
            tags[self._u16(pos)] = pos + 8
        return tags, self._u32(offset + 2 + 12 * n)

    def short(self, value_pos: int) -> int:
        return self._u16(value_pos)

    def long(self, value_pos: int) -> int:
        return self._u32(value_pos)


def exif_orientation(tiff: bytes) -> int:
    """The Orientation tag (1..8) of an EXIF block, 1 when absent or unreadable."""
    try:
        t = _Tiff(tiff)
        tags, _ = t.entries(t.first_ifd())
        if ORIENTATION_TAG in tags:
            value = t.short(tags[ORIENTATION_TAG])
            return value if 1 <= value <= 8 else 1
    except (ValueError, struct.error):
        pass
    return 1


def describe_exif(tiff: bytes) -> list[str]:
    """Labels for an EXIF block. Empty for one that holds nothing but Orientation (ours)."""
    try:
        t = _Tiff(tiff)
        ifd0, next_ifd = t.entries(t.first_ifd())
    except (ValueError, struct.error):
        return [EXIF]
    if set(ifd0) <= {ORIENTATION_TAG} and not next_ifd:
        return []
    labels = [_IFD0_LABELS[tag] for tag in ifd0 if tag in _IFD0_LABELS]
    if next_ifd:  # IFD1 describes the embedded preview JPEG
        labels.append(THUMBNAIL)
    if _EXIF_IFD_POINTER in ifd0:
        try:
            sub, _ = t.entries(t.long(ifd0[_EXIF_IFD_POINTER]))
            labels += [_EXIF_IFD_LABELS[tag] for tag in sub if tag in _EXIF_IFD_LABELS]
        except (ValueError, struct.error):
            pass
    labels.append(EXIF)
    return labels


def describe_xmp(packet: bytes) -> list[str]:
    """XMP often repeats the EXIF facts (and more): name the sensitive ones we can see."""
    return [label for needle, label in _XMP_HINTS if needle in packet] + [XMP]


def orientation_tiff(orientation: int) -> bytes:
    """The smallest EXIF body that keeps the image upright: IFD0 with only Orientation."""
    return (
        b"MM\x00\x2a\x00\x00\x00\x08"
        + struct.pack(">HHHIHH", 1, ORIENTATION_TAG, 3, 1, orientation, 0)
        + b"\x00\x00\x00\x00"
    )
