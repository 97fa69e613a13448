"""The catalog's image rows, read straight from its tables (the backend never lists them all)."""

from __future__ import annotations

import re

from sqlalchemy import select

from backend.catalog import Catalog, ImageRecord
from backend.catalog.schema import images


def image_records(catalog: Catalog) -> list[ImageRecord]:
    with catalog.reading() as conn:
        return [ImageRecord(**row._mapping) for row in conn.execute(select(images))]


def blob_key_pattern(sha256: str, ext: str) -> str:
    """A regular expression for the key of a blob of these bytes stored now (with a generation:
    backend.service.new_blob_key)."""
    return rf"{sha256[:2]}/{sha256}\.[0-9a-f]{{12}}\.{ext}"


def matches_blob_key(text: str, sha256: str, ext: str, prefix: str = "") -> bool:
    return re.fullmatch(re.escape(prefix) + blob_key_pattern(sha256, ext), text) is not None
