"""The catalog: image records, blob reference counts and idempotency keys, in SQL."""

from backend.catalog.catalog import (
    Catalog,
    IdempotencyClaim,
    IdempotencyRecord,
    ImageRecord,
    NewImage,
    WouldBlock,
)

__all__ = [
    "Catalog",
    "IdempotencyClaim",
    "IdempotencyRecord",
    "ImageRecord",
    "NewImage",
    "WouldBlock",
]
