"""Blob stores: content-addressed, durable, atomic. Chosen by URL (`open_store`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from backend.storage.base import BlobInfo, BlobStore, StorageFull, StorageUnavailable
from backend.storage.fallback import FallbackStore
from backend.storage.filesystem import FilesystemStore

if TYPE_CHECKING:
    from backend.settings import Settings


def open_store(url: str, **options) -> BlobStore:
    """`/path`, `file:///path` -> FilesystemStore; `s3://bucket/prefix` -> S3Store.

    `options` (endpoint_url, region, access_key_id, secret_access_key, public_url, timeouts)
    apply to S3.
    """
    if url.startswith("s3://"):
        from backend.storage.s3 import S3Store  # boto3 is an optional dependency

        return S3Store.from_url(url, **options)
    if url.startswith("file://"):
        url = url[len("file://") :]
    return FilesystemStore(url)


def s3_options(settings: Settings) -> dict[str, str | int | None]:
    return {
        "connect_timeout": settings.s3_connect_timeout,
        "read_timeout": settings.s3_read_timeout,
        "max_attempts": settings.s3_max_attempts,
        "endpoint_url": settings.s3_endpoint_url or None,
        "region": settings.s3_region or None,
        "access_key_id": settings.s3_access_key_id or None,
        "secret_access_key": settings.s3_secret_access_key or None,
        "public_url": settings.s3_public_url or None,
    }


def store_from_settings(settings: Settings) -> BlobStore:
    """STORAGE_URL, reading through to STORAGE_FALLBACK_URL when one is set."""
    store = open_store(settings.resolved_storage_url, **s3_options(settings))
    if settings.storage_fallback_url:
        fallback = open_store(settings.storage_fallback_url, **s3_options(settings))
        store = FallbackStore(store, fallback)
    return store


__all__ = [
    "BlobInfo",
    "BlobStore",
    "FallbackStore",
    "FilesystemStore",
    "StorageFull",
    "StorageUnavailable",
    "open_store",
    "store_from_settings",
]
