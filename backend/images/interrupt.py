"""Stopping a decode that runs too long or that nobody waits for any more.

Pillow cannot be interrupted from outside, but its decoders pull their input through the file
object in small chunks (`_pillow.opened` feeds them CHUNK bytes at a time): `GuardedBytes.read`
checks the interrupt of the work it belongs to before each chunk, so a slow decode stops within
one chunk's worth of work. Frame loops call `check()` between frames too (a WebP frame is decoded
in one call, from bytes read up front).

The interrupt travels with the work in a context variable: the HTTP layer sets it around the
call that runs in a worker thread (anyio copies the context into the thread), so the image code
needs no extra parameter on every path.
"""

from __future__ import annotations

import contextlib
import contextvars
import io
import threading
import time
from collections.abc import Iterator

from backend.images.errors import ImageRejected

CHUNK = 16384  # bytes a decoder gets between two checks


class TooSlow(ImageRejected):
    code = "too_slow"

    def __init__(self, seconds: float) -> None:
        super().__init__(
            f"This image takes too long to process (more than {seconds:g} seconds of work)."
        )


class Abandoned(Exception):
    """Nobody waits for the result any more (the client disconnected)."""


class Interrupt:
    """A deadline (seconds of work, counted from `start()`) and a cancel switch."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.cancelled = threading.Event()
        self._deadline: float | None = None

    def start(self) -> None:
        self._deadline = time.monotonic() + self.seconds

    def cancel(self) -> None:
        self.cancelled.set()

    def check(self) -> None:
        if self.cancelled.is_set():
            raise Abandoned()
        if self._deadline is not None and time.monotonic() > self._deadline:
            raise TooSlow(self.seconds)


_current: contextvars.ContextVar[Interrupt | None] = contextvars.ContextVar(
    "image_work_interrupt", default=None
)


@contextlib.contextmanager
def applied(interrupt: Interrupt) -> Iterator[Interrupt]:
    """Run the block (image work) under `interrupt`, its deadline counted from now."""
    interrupt.start()
    interrupt.check()
    token = _current.set(interrupt)
    try:
        yield interrupt
    finally:
        _current.reset(token)


def check() -> None:
    """Raise TooSlow or Abandoned if the work running in this context should stop."""
    interrupt = _current.get()
    if interrupt is not None:
        interrupt.check()


class GuardedBytes(io.BytesIO):
    """In-memory bytes whose every read first checks the current interrupt."""

    def read(self, size: int | None = -1, /) -> bytes:
        check()
        return super().read(size)
