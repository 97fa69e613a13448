"""An exclusive lock on a file between processes (flock): the kernel releases it when its holder
dies, however it dies (a SIGKILL, an OOM kill), so a crash never leaves it taken."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

try:
    import fcntl
except ImportError:  # Windows: the desktop's embedded server is one process
    fcntl = None  # type: ignore[assignment]

HAVE_FLOCK = fcntl is not None


@contextlib.contextmanager
def flocked(fd: int, *, wait: bool = True) -> Iterator[bool]:
    """Yields whether the lock on `fd` was taken (always, when `wait`). Raises OSError on a
    system without flock."""
    if fcntl is None:
        raise OSError("no flock on this system")
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        yield False
        return
    try:
        yield True
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
