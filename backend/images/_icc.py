"""ICC colour profiles: the one opaque blob the strippers keep (colours shift without it), so it
is kept only when its bytes parse as a profile."""

from __future__ import annotations

import struct

_HEADER = 128  # then a tag count and 12-byte tag entries (signature, offset, size)


def is_profile(data: bytes) -> bool:
    """The declared size is the length, the 'acsp' signature is in place, and the tag table and
    every tag it lists lie inside the profile."""
    if len(data) < _HEADER + 4 or data[36:40] != b"acsp":
        return False
    size, count = struct.unpack_from(">I", data)[0], struct.unpack_from(">I", data, _HEADER)[0]
    table_end = _HEADER + 4 + 12 * count
    if size != len(data) or table_end > size:
        return False
    for i in range(count):
        offset, length = struct.unpack_from(">II", data, _HEADER + 8 + 12 * i)
        if offset < table_end or offset + length > size:
            return False
    return True
