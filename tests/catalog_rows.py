"""The catalog's image rows, read straight from its tables (the backend never lists them all)."""

from __future__ import annotations

from sqlalchemy import select

from backend.catalog import Catalog, ImageRecord
from backend.catalog.schema import images


def image_records(catalog: Catalog) -> list[ImageRecord]:
    with catalog.reading() as conn:
        return [ImageRecord(**row._mapping) for row in conn.execute(select(images))]
