"""One background thread that makes the queue's thumbnails, at a low CPU priority.

A thumbnail is for the rows on screen only, so it must not slow down what the user waits for:
the upload itself (and, with the embedded server, the server's own work on the same cores).
Jobs are handed over once their upload has started; they run one at a time, in order, on a
thread whose scheduling priority is lowered where the system allows it per thread (Linux).
Qt-free: the callback reports back however its owner likes (the service emits a signal).
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import sys
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

NICENESS = 10


class Thumbnailer:
    def __init__(self, work: Callable[[str, bytes], None]) -> None:
        self._work = work
        self._jobs: queue.Queue[tuple[str, bytes] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, key: str, data: bytes) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="picdrop-thumbnails", daemon=True
                )
                self._thread.start()
        self._jobs.put((key, data))

    def stop(self, timeout: float = 5.0) -> None:
        """Finish the job at hand, drop the rest (their rows keep the generic icon)."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is None:
            return
        while True:
            try:
                self._jobs.get_nowait()
            except queue.Empty:
                break
        self._jobs.put(None)
        thread.join(timeout)

    def _run(self) -> None:
        if sys.platform == "linux":  # a thread is a task there: this lowers this thread only
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICENESS)
        while True:
            job = self._jobs.get()
            if job is None:
                return
            try:
                self._work(*job)
            except Exception:
                log.exception("thumbnail job failed")
