"""The catalog: image records, blob reference counts and idempotency keys, in SQL."""

from backend.catalog.catalog import (
    Catalog,
    IdempotencyClaim,
    IdempotencyRecord,
    ImageRecord,
    NewImage,
)

__all__ = ["Catalog", "IdempotencyClaim", "IdempotencyRecord", "ImageRecord", "NewImage"]
