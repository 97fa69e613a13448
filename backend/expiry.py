"""What an upload's `expires` asks for: one of the named lifetimes (1h ... never) or, as 0x0.st
takes it, a whole number of hours, or a moment in milliseconds since 1970 (numbers from 0x0's own
threshold, 1650460320000, on). The server's policy caps the result (ImageService.expiry)."""

from __future__ import annotations

import re

from backend.settings import EXPIRY_CHOICES

EPOCH_MILLISECONDS_FROM = 1_650_460_320_000
# Longer than this is as good as never (and beyond the dates a catalog row can hold).
NEVER_BEYOND = 100 * 365 * 86400
_NUMBER = re.compile(r"[0-9]{1,20}")


def requested_lifetime(value: str, now: float) -> float | None:
    """Seconds from `now` until the upload expires, or None for never. Raises ValueError."""
    choice = value.strip().lower()
    if choice in EXPIRY_CHOICES:
        return EXPIRY_CHOICES[choice]
    if not _NUMBER.fullmatch(choice):
        raise ValueError(
            f"'expires' must be one of {', '.join(EXPIRY_CHOICES)}, a whole number of hours or "
            f"a time in milliseconds since 1970, not {value!r}."
        )
    number = int(choice)
    seconds = number * 3600 if number < EPOCH_MILLISECONDS_FROM else number / 1000 - now
    if seconds <= 0:
        raise ValueError(f"'expires' must be in the future, not {value!r}.")
    return None if seconds > NEVER_BEYOND else seconds
