"""The server secret: PICDROP_SECRET_KEY, or a random one kept in the data directory."""

from __future__ import annotations

import contextlib
import os
import secrets

from backend.settings import Settings

SECRET_FILE = "secret_key"


def server_secret(settings: Settings) -> bytes:
    if settings.secret_key:
        return settings.secret_key.encode()
    path = settings.data_dir / SECRET_FILE
    if not path.exists():
        # Write it whole under a temporary name, then link it into place: two processes starting
        # at once agree on one secret, and nobody ever reads a half-written file.
        tmp = path.with_name(f".{SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32) + "\n")
                f.flush()
                os.fsync(f.fileno())
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    return bytes.fromhex(path.read_text().strip())
