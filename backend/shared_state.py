"""What the processes of one `serve --processes N` share on this machine besides the catalog and
the blobs: a private directory in RAM, holding the SQLite file of the rate limits (when they are
memory://) and the upload memory's table, and a random secret of this run from which the daily salt
of client keys is derived.

One process keeps its limits and its salt in memory; several keep them here, which is no more
durable: tmpfs (/dev/shm) is never written to disk, the directory is 0700 under a random name,
and it is removed when the server stops. The secret travels to the processes through uvicorn's
spawn pipe, never through the environment or the command line.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

RAM = Path("/dev/shm")


@dataclass(frozen=True)
class SharedState:
    directory: Path
    secret: bytes = field(repr=False)

    @classmethod
    def create(cls) -> SharedState:
        base = RAM if os.access(RAM, os.W_OK) else None  # else the temp dir: still private
        return cls(Path(tempfile.mkdtemp(prefix="picdrop-", dir=base)), secrets.token_bytes(32))

    @property
    def limits_url(self) -> str:
        return f"sqlite:///{self.directory / 'limits.sqlite3'}"

    @property
    def budget_path(self) -> Path:
        return self.directory / "upload-memory"

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)
