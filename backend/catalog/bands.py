"""Multi-index hashing: the perceptual blocklist looked up by bands of a hash, not scanned.

The 128-bit hash is cut into BANDS bands. If two hashes differ in at most d = BANDS * r + a bits
(a < BANDS), one of the first a + 1 bands differs in at most r bits or one of the others in at
most r - 1 (else they would differ in (a + 1)(r + 1) + (BANDS - a - 1) r = d + 1 bits or more).
So every block within d of a hash has a band equal to one of that hash's band values with that
many bits flipped. Those values are looked up in the indexed `block_bands` table and each
candidate is verified by Hamming distance: the blocks the linear scan finds, with candidates a
tiny share of the list. Wide bands keep the candidates few at a million blocks (a band of 26 bits:
one random hash in 64 million shares it), and the flips stay few (at the default distance 12:
radius 2 in three bands and 1 in two, 1,108 values in all).
"""

from __future__ import annotations

from itertools import combinations
from math import comb

WIDTHS = (26, 26, 26, 25, 25)  # bits of each band, most significant first
# The perceptual hash's width (backend.images.fingerprint.BITS: a test checks they agree), not
# imported: the catalog loads no image code, so `serve`'s supervisor stays small.
BITS = sum(WIDTHS)
BANDS = len(WIDTHS)
# Beyond this radius the values to look up grow past the cost of a scan (radius 3: 2,952 a band).
MAX_RADIUS = 2


def _flips(width: int) -> tuple[int, ...]:
    """Every mask of up to MAX_RADIUS set bits in `width` bits, fewest bits first."""
    return tuple(
        sum(1 << bit for bit in bits)
        for count in range(MAX_RADIUS + 1)
        for bits in combinations(range(width), count)
    )


_FLIPS = {width: _flips(width) for width in set(WIDTHS)}


def covers(distance: int) -> bool:
    """Whether the index answers for this distance (else: scan)."""
    return distance // BANDS <= MAX_RADIUS


def _radii(distance: int) -> list[int]:
    """For each band, the bits it may differ in if it is the band that is close (see above)."""
    r, a = divmod(distance, BANDS)
    return [r if band <= a else r - 1 for band in range(BANDS)]


def band_values(hash_hex: str) -> list[tuple[int, int]]:
    """(band, value) for each band of a hash."""
    value = int(hash_hex, 16)
    result = []
    shift = BITS
    for band, width in enumerate(WIDTHS):
        shift -= width
        result.append((band, (value >> shift) & ((1 << width) - 1)))
    return result


def probes(hash_hex: str, distance: int) -> list[tuple[int, list[int]]]:
    """For each band, the values a block within `distance` of the hash may have there (when
    none of its bands does, it is farther)."""
    if not covers(distance):
        raise ValueError(f"distance {distance} is beyond the band index")
    result = []
    for (band, value), r in zip(band_values(hash_hex), _radii(distance), strict=True):
        if r >= 0:
            width = WIDTHS[band]
            masks = _FLIPS[width][: sum(comb(width, k) for k in range(r + 1))]
            result.append((band, [value ^ m for m in masks]))
    return result
