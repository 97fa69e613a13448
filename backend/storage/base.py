"""The blob store protocol shared by the filesystem and S3 implementations."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


class StorageFull(Exception):
    """The store has no space left (507)."""


class StorageUnavailable(Exception):
    """The store cannot be written or read right now: a read-only or failing disk, lost
    permissions, an object store that does not answer (503, try again later)."""


@dataclass(frozen=True)
class BlobInfo:
    key: str
    size: int
    modified: float  # seconds since the epoch


class BlobStore(Protocol):
    """Keys are opaque strings such as "ab/cdef...jpg" (the catalog derives them from the SHA-256).

    `put` is atomic and durable: when it returns, the blob survives a crash; a reader never sees a
    partial blob. Putting an existing key again is allowed and leaves one copy.
    """

    def put(self, key: str, data: bytes) -> None: ...

    def get(self, key: str) -> bytes:
        """Raises KeyError when the blob does not exist."""
        ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Deleting a missing key is not an error."""
        ...

    def list(self) -> Iterator[BlobInfo]:
        """Every blob, for the orphan sweep."""
        ...

    def local_path(self, key: str) -> Path | None:
        """A file the server may send directly (sendfile / X-Accel-Redirect), if any."""
        ...

    def url(
        self,
        key: str,
        *,
        expires_in: int,
        content_type: str | None = None,
        cache_control: str | None = None,
        content_disposition: str | None = None,
    ) -> str | None:
        """Where a client can fetch the blob from the store itself, valid for `expires_in`
        seconds and answered with these headers; None when the store has no such URLs."""
        ...

    def sweep_temporary(self, older_than: float) -> int:
        """Remove leftovers of interrupted writes; returns how many were removed."""
        ...
