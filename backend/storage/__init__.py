"""Blob stores: content-addressed, durable, atomic. Chosen by URL (`open_store`)."""

from __future__ import annotations

from backend.storage.base import BlobInfo, BlobStore, StorageFull
from backend.storage.filesystem import FilesystemStore


def open_store(url: str, **options) -> BlobStore:
    """`/path`, `file:///path` -> FilesystemStore; `s3://bucket/prefix` -> S3Store."""
    if url.startswith("s3://"):
        from backend.storage.s3 import S3Store  # boto3 is an optional dependency

        return S3Store.from_url(url, **options)
    if url.startswith("file://"):
        url = url[len("file://") :]
    return FilesystemStore(url)


__all__ = ["BlobInfo", "BlobStore", "FilesystemStore", "StorageFull", "open_store"]
