"""One log line per kind of outage per second, with how many failures it stands for.

A dependency that is down fails every request that needs it; a traceback per request would bury
the log (and the disk) while telling the operator nothing new.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable


class OutageLog:
    def __init__(
        self,
        logger: logging.Logger,
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.interval = interval
        self.clock = clock
        self._lock = threading.Lock()
        self._last_line: dict[str, float] = {}
        self._unlogged: dict[str, int] = {}

    def failed(self, kind: str, exc: BaseException, consequence: str) -> None:
        """`kind`: what is down ('database', 'object store'...); `consequence`: what clients get."""
        with self._lock:
            count = self._unlogged.get(kind, 0) + 1
            now = self.clock()
            last = self._last_line.get(kind)
            if last is not None and now - last < self.interval:
                self._unlogged[kind] = count
                return
            self._last_line[kind] = now
            self._unlogged[kind] = 0
        self.logger.error(
            "%s unavailable (%d failure%s since the last line): %s: %s; %s",
            kind,
            count,
            "" if count == 1 else "s",
            type(exc).__name__,
            str(exc).splitlines()[0] if str(exc) else "",
            consequence,
        )
