"""The lifetimes an upload may ask for: the one table that the settings, the upload API and its
OpenAPI schema, the upload page and the desktop's command line all read; and the other forms
`expires` takes, as 0x0.st takes them: a whole number of hours, or a moment in milliseconds since
1970 (numbers from 0x0's own threshold, 1650460320000, on). The server's policy caps the result
(ImageService.expiry)."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Expiry:
    name: str  # what a client sends: `expires=7d`
    seconds: int | None  # None: never expires
    label: str  # what the upload page shows


EXPIRIES = (
    Expiry("1h", 3600, "1 hour"),
    Expiry("1d", 86400, "1 day"),
    Expiry("7d", 7 * 86400, "7 days"),
    Expiry("30d", 30 * 86400, "30 days"),
    Expiry("never", None, "Forever"),
)
# name -> seconds (None: never), shortest first
EXPIRY_CHOICES = {e.name: e.seconds for e in EXPIRIES}
EXPIRY_LABELS = {e.name: e.label for e in EXPIRIES}
# "1h, 1d, 7d, 30d or never", for help texts
EXPIRY_NAMES_TEXT = ", ".join(e.name for e in EXPIRIES[:-1]) + f" or {EXPIRIES[-1].name}"

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
