"""The lifetimes an upload may ask for: the one table that the settings, the upload API and its
OpenAPI schema, the upload page and the desktop's command line all read."""

from __future__ import annotations

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
