"""When and how long to wait before trying an upload again.

Full-jitter exponential backoff (sleep = random(0, min(cap, base * 2**attempt))) spreads retries of
many clients apart. Retried: no answer at all, 5xx, 429 (honouring Retry-After). Never retried:
other 4xx — the server looked at the file and said no; asking again gives the same answer.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from desktop.core.api import ApiError, ServerUnreachable


def is_refusal(error: Exception) -> bool:
    """The server looked at the file and said no (a 4xx but 429): asking again with the same
    bytes gives the same answer, so no Retry is offered."""
    return isinstance(error, ApiError) and error.status < 500 and error.status != 429


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    base: float = 1.0
    cap: float = 60.0
    # A Retry-After larger than this is treated as "give up for now" rather than a wait.
    max_retry_after: float = 15 * 60.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def should_retry(self, error: Exception) -> bool:
        if isinstance(error, ServerUnreachable):
            return True
        return isinstance(error, ApiError) and not is_refusal(error)

    def delay(self, attempt: int, error: Exception) -> float | None:
        """Seconds to wait before attempt number `attempt + 1` (attempts count from 1), or None
        when the error is final or the attempts are used up."""
        if attempt >= self.max_attempts or not self.should_retry(error):
            return None
        ceiling = min(self.cap, self.base * 2 ** (attempt - 1))
        wait = self.rng.uniform(0, ceiling)
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            if retry_after > self.max_retry_after:
                return None
            # The server knows best when it will take us again: never come back earlier.
            wait = max(wait, retry_after)
        return wait
