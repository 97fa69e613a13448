"""The catalog: image records, blob reference counts and idempotency keys, in SQL."""

from backend.catalog.catalog import (
    BlobGone,
    BlobUsage,
    Catalog,
    CatalogDamaged,
    Deleted,
    IdempotencyClaim,
    IdempotencyRecord,
    ImageRecord,
    NewImage,
    WouldBlock,
    is_disk_full,
)

__all__ = [
    "BlobGone",
    "BlobUsage",
    "Catalog",
    "CatalogDamaged",
    "Deleted",
    "IdempotencyClaim",
    "IdempotencyRecord",
    "ImageRecord",
    "NewImage",
    "WouldBlock",
    "is_disk_full",
]
