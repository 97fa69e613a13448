"""Size-based retention like 0x0.st: the bigger the file, the sooner it expires.

    lifetime = MIN + (MAX - MIN) * (1 - size / max_bytes) ** 3

so a file at the size limit is kept MIN, a tiny one almost MAX. Off unless PICDROP_RETENTION is
set ('30d:365d'); an upload's own shorter expiry always wins.
"""

from __future__ import annotations

import re

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdwy]?)\s*$")


def _duration(text: str) -> float:
    match = _DURATION.match(text.lower())
    if not match:
        raise ValueError(text)
    return float(match.group(1)) * _UNITS[match.group(2) or "d"]


def parse_retention(value: str, what: str = "retention") -> tuple[float, float] | None:
    """'' or 'off' -> None; 'MIN:MAX' (durations like 30d, 12h, 1y; plain numbers are days)."""
    if value.strip().lower() in ("", "off", "none"):
        return None
    try:
        low, high = (_duration(part) for part in value.split(":"))
    except ValueError:
        raise ValueError(
            f"{what}: {value!r} is not 'MIN:MAX' with durations such as '30d:365d'"
        ) from None
    if not 0 < low <= high:
        raise ValueError(f"{what}: MIN must be positive and at most MAX in {value!r}")
    return low, high


def lifetime(size: int, max_bytes: int, bounds: tuple[float, float]) -> float:
    """Seconds a file of `size` bytes is kept."""
    low, high = bounds
    fraction = min(1.0, max(0.0, size / max_bytes)) if max_bytes > 0 else 1.0
    return low + (high - low) * (1.0 - fraction) ** 3
