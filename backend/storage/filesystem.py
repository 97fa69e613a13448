"""Blobs as files under one directory, written atomically.

Each put writes a temp file in the target's own directory, fsyncs it, renames it over the final
name and fsyncs the directory, so after a crash a blob is either complete or absent; at worst a
`.tmp-*` file is left, which `sweep_temporary` removes.

A full disk raises StorageFull; a disk that refuses writes or reads (read-only, failing, no
permission) raises StorageUnavailable.
"""

from __future__ import annotations

import contextlib
import errno
import os
import time
from collections.abc import Iterator
from pathlib import Path

from backend.storage.base import BlobInfo, StorageFull, StorageUnavailable

TMP_PREFIX = ".tmp-"
_FULL = (errno.ENOSPC, errno.EDQUOT)
_UNAVAILABLE = (errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO)


class FilesystemStore:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        # Keys come from the catalog (hex digests), never from clients; refuse anything odd anyway.
        if not key or key.startswith(("/", ".")) or ".." in key or "\\" in key:
            raise ValueError(f"bad blob key {key!r}")
        return self.root / key

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        directory = path.parent
        tmp = directory / f"{TMP_PREFIX}{path.name}.{os.getpid()}.{time.monotonic_ns()}"
        try:
            directory.mkdir(parents=True, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
            _fsync_dir(directory)
        except OSError as exc:
            with contextlib.suppress(OSError):  # e.g. read-only: there is no temp file either
                tmp.unlink(missing_ok=True)
            _raise_storage_error(exc)
            raise

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise KeyError(key) from None
        except OSError as exc:
            _raise_storage_error(exc)
            raise

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink()
        except FileNotFoundError:
            return
        _fsync_dir(path.parent)

    def list(self) -> Iterator[BlobInfo]:
        # Plain strings, not Path objects: the sweep lists every blob, and pathlib's parsing
        # cost twice the stat itself (and the serving process's GIL while it ran).
        root = str(self.root)
        for dirpath, _dirs, files in os.walk(root):
            prefix = dirpath[len(root) + 1 :].replace(os.sep, "/")
            prefix = prefix + "/" if prefix else ""
            for name in files:
                if name.startswith(TMP_PREFIX):
                    continue
                try:
                    st = os.stat(os.path.join(dirpath, name))
                except FileNotFoundError:
                    continue
                yield BlobInfo(prefix + name, st.st_size, st.st_mtime)

    def local_path(self, key: str) -> Path | None:
        return self._path(key)

    def url(self, key: str, **_options: object) -> str | None:
        return None  # files reach clients through the app, or through nginx (local_path)

    def sweep_temporary(self, older_than: float) -> int:
        removed = 0
        cutoff = time.time() - older_than
        for dirpath, _dirs, files in os.walk(self.root):
            for name in files:
                if name.startswith(TMP_PREFIX):
                    full = Path(dirpath) / name
                    try:
                        if full.stat().st_mtime <= cutoff:
                            full.unlink()
                            removed += 1
                    except FileNotFoundError:
                        pass
        return removed


def _raise_storage_error(exc: OSError) -> None:
    """Raise the store's own exception when `exc` means full or unavailable."""
    if exc.errno in _FULL:
        raise StorageFull("The server's storage is full.") from exc
    if exc.errno in _UNAVAILABLE:
        raise StorageUnavailable(f"The blob directory cannot be used: {exc.strerror}.") from exc


def _fsync_dir(directory: Path) -> None:
    # Makes the rename (or unlink) itself durable; not possible on Windows, where it is not needed.
    if os.name == "nt":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
