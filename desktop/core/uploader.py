"""One upload from start to finish, with retries: the blocking work a worker thread does.

Qt-free so that the CLI runs the very same logic as the window.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

from desktop.core.api import (
    ApiError,
    CancelToken,
    PicdropClient,
    PicdropError,
    ServerUnreachable,
    UploadCancelled,
    UploadResult,
)
from desktop.core.printable import printable
from desktop.core.retry import RetryPolicy

# (error, seconds until the next try, attempt that failed)
WaitingCallback = Callable[[Exception, float, int], None]


def describe_error(error: Exception) -> str:
    """The sentence shown on a row (or printed): control characters escaped."""
    if isinstance(error, ApiError):
        if 400 <= error.status < 500 and error.status != 429:
            return printable(f"Refused by the server: {error.message}")
        return printable(error.message)
    return printable(str(error))


def describe_wait(error: Exception, delay: float) -> str:
    seconds = max(1, round(delay))
    return f"{describe_error(error)} — retrying in {seconds} s"


def upload_with_retry(
    client: PicdropClient,
    data: bytes,
    name: str,
    mime: str,
    *,
    key: str,
    policy: RetryPolicy,
    cancel: CancelToken,
    progress: Callable[[int, int], None] | None = None,
    waiting: WaitingCallback | None = None,
    expires: str | None = None,
) -> UploadResult:
    """Upload until it succeeds, fails for good (raises a PicdropError) or is
    cancelled (raises UploadCancelled). Every try sends the same Idempotency-Key, so a try whose
    answer was lost cannot create a second image."""
    attempt = 0
    while True:
        attempt += 1
        cancel.raise_if_cancelled()
        try:
            result = client.upload(
                data,
                name,
                mime,
                idempotency_key=key,
                expires=expires,
                progress=progress,
                cancel=cancel,
            )
        except (ApiError, ServerUnreachable) as error:
            delay = policy.delay(attempt, error)
            if delay is None:
                raise
            if waiting is not None:
                waiting(error, delay, attempt)
            if cancel.wait(delay):
                raise UploadCancelled() from error
            continue
        if cancel.cancelled:
            # Cancelled after the last byte left: the server has it. Cancel means "not on the
            # server", so take it back with the delete token we just got.
            with contextlib.suppress(PicdropError):
                client.delete(result.id, result.delete_token)
            raise UploadCancelled()
        return result


class SpeedMeter:
    """Bytes per second over a sliding window of recent progress reports."""

    def __init__(self, window: float = 2.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self.clock = clock
        self._points: list[tuple[float, int]] = []

    def update(self, sent: int) -> float:
        now = self.clock()
        if self._points and sent < self._points[-1][1]:
            self._points.clear()  # a retry started over
        self._points.append((now, sent))
        while len(self._points) > 2 and now - self._points[0][0] > self.window:
            self._points.pop(0)
        t0, s0 = self._points[0]
        return (sent - s0) / (now - t0) if now > t0 else 0.0
