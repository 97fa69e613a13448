"""One background thread that makes the queue's thumbnails, at a low CPU priority.

A thumbnail is for the rows on screen only, so it must not slow down what the user waits for:
the upload itself (and, with the embedded server, the server's own work on the same cores).
Jobs are handed over once their bytes are staged; they run one at a time, in order, on a thread
whose scheduling priority is lowered where the system allows it per thread (Linux). While the
owner says uploads are under way (`set_busy`), a job waits until they are over or until it is
HOLD_BACK old: a lowered priority does not stop this thread from holding the GIL the upload's
own thread needs (2.6 MB to the embedded server: ~4 ms of its ~45 from drop to link).
Qt-free: the callback reports back however its owner likes (the service emits a signal).
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import sys
import threading
import time
from collections.abc import Callable

from desktop.core.history import HistoryStore
from desktop.core.prepare import row_thumbnail

log = logging.getLogger(__name__)

NICENESS = 10
# Longest a thumbnail waits for the uploads under way: well under what a person notices on a
# row, and what a slower upload (to a remote server) lets it overlap with.
HOLD_BACK = 0.25


class Thumbnailer:
    def __init__(self, work: Callable[[str, bytes], None]) -> None:
        self._work = work
        self._jobs: queue.Queue[tuple[float, str, bytes] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._quiet = threading.Event()  # no upload under way: nothing to hold back for
        self._quiet.set()

    def set_busy(self, busy: bool) -> None:
        """Uploads are under way (jobs hold back up to HOLD_BACK), or they are over."""
        if busy:
            self._quiet.clear()
        else:
            self._quiet.set()

    def submit(self, key: str, data: bytes) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="picdrop-thumbnails", daemon=True
                )
                self._thread.start()
        self._jobs.put((time.monotonic(), key, data))

    def stop(self, timeout: float = 5.0, *, finish_all: bool = False) -> None:
        """Finish the job at hand and drop the rest (their rows keep the generic icon), or, with
        `finish_all`, make every thumbnail submitted so far first."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is None:
            return
        self._quiet.set()
        while not finish_all:
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
            submitted, key, data = job
            self._quiet.wait(max(0.0, submitted + HOLD_BACK - time.monotonic()))
            try:
                self._work(key, data)
            except Exception:
                log.exception("thumbnail job failed")


def record_thumbnail(history: HistoryStore, key: str, data: bytes) -> bytes | None:
    """Make the row's thumbnail of `data` and keep it in history; None when there is none."""
    try:
        thumbnail = row_thumbnail(data)
        if thumbnail is not None:
            history.set_thumbnail(key, thumbnail)
        return thumbnail
    except Exception:  # only the row's picture is missing
        log.exception("thumbnail of %s failed", key)
        return None
