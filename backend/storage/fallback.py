"""A store that writes to a new store and reads from the old one too: the state of a deployment
while `picdrop-server migrate-storage` copies its blobs from one store to another.

Writes go to the primary only; reads try the primary, then the fallback; deletes remove the blob
from both (so the copy cannot bring a deleted image back). `list` (the orphan sweep) sees only
the primary: the fallback is the old store, left as it is until the migration is over.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from backend.storage.base import BlobInfo, BlobStore


class FallbackStore:
    def __init__(self, primary: BlobStore, fallback: BlobStore) -> None:
        self.primary = primary
        self.fallback = fallback

    def __repr__(self) -> str:
        return f"FallbackStore({self.primary!r}, then {self.fallback!r})"

    def put(self, key: str, data: bytes) -> None:
        self.primary.put(key, data)

    def get(self, key: str) -> bytes:
        try:
            return self.primary.get(key)
        except KeyError:
            return self.fallback.get(key)

    def exists(self, key: str) -> bool:
        return self.primary.exists(key) or self.fallback.exists(key)

    def delete(self, key: str) -> None:
        self.primary.delete(key)
        self.fallback.delete(key)

    def list(self) -> Iterator[BlobInfo]:
        return self.primary.list()

    def local_path(self, key: str) -> Path | None:
        # Only a file that is already in the primary store: nginx's X-Accel location maps that
        # one (STORAGE_URL); a blob still only in the old store is sent by the app.
        path = self.primary.local_path(key)
        return path if path is not None and self.primary.exists(key) else None

    def url(self, key: str, **_options: object) -> str | None:
        # The app sends the bytes while blobs move: a URL into the primary would first need a
        # request to the primary per view, to know the blob is there already.
        return None

    def sweep_temporary(self, older_than: float) -> int:
        return self.primary.sweep_temporary(older_than)
