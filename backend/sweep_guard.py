"""Whether the orphan sweep may remove the store's unreferenced blobs: not when the catalog may
not be the one that wrote them.

The sweep deletes every blob the catalog does not reference. That is right for the catalog that
wrote the store, and a disaster for one that did not: a catalog restored from an older backup
(uploads made since are in the store, not in it), or a staging instance pointed at production's
bucket (all of it). So the sweep holds, with a warning each round, when a restore said so, or
when the catalog references no blob at all while the store holds some, until an operator
releases it (`picdrop-server sweep --release`).
"""

from __future__ import annotations

from backend.catalog import Catalog
from backend.catalog.backup import references_blobs, sweep_hold
from backend.storage import BlobStore


def hold_reason(catalog: Catalog, store: BlobStore) -> str | None:
    """Why the sweep must not remove blobs now, or None."""
    held, released = sweep_hold(catalog)
    if held is not None:
        return held
    if released or references_blobs(catalog):
        return None
    if next(iter(store.list()), None) is None:
        return None  # a new installation: nothing to lose
    return "this catalog references no blob but the store holds some (another catalog's store?)"
