"""The progress bar `picdrop upload` draws on a terminal (standard error, never when piped)."""

from __future__ import annotations

import shutil
import time
from typing import TextIO

from desktop.core.units import human_size

INTERVAL = 0.1  # redraws per second at most: 10


class ProgressBar:
    """Overall progress of all files: bytes sent of bytes known, and files finished."""

    def __init__(self, stream: TextIO, count: int, enabled: bool) -> None:
        self.stream = stream
        self.count = count
        self.enabled = enabled
        self._sent: dict[int, int] = {}
        self._total: dict[int, int] = {}
        self._finished = 0
        self._status = ""
        self._last = 0.0
        self._drawn = False

    def update(self, index: int, sent: int, total: int) -> None:
        self._sent[index] = sent
        self._total[index] = total
        self._status = ""
        self._draw(force=sent >= total)

    def status(self, text: str) -> None:
        self._status = text
        self._draw(force=True)

    def file_finished(self, index: int) -> None:
        self._finished += 1
        if index in self._total:
            self._sent[index] = self._total[index]
        self._draw(force=True)

    def clear(self) -> None:
        """Take the bar off the line (before printing a message, and at the end)."""
        if self.enabled and self._drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._drawn = False

    def redraw(self) -> None:
        self._draw(force=True)

    def _draw(self, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < INTERVAL:
            return
        self._last = now
        self.stream.write("\r\x1b[K" + self.line(shutil.get_terminal_size((80, 24)).columns))
        self.stream.flush()
        self._drawn = True

    def line(self, columns: int) -> str:
        sent, total = sum(self._sent.values()), sum(self._total.values())
        percent = sent * 100 // total if total else 0
        head = f"{self._finished}/{self.count} "
        tail = f" {percent:3d}%  {human_size(sent)} of {human_size(total)}"
        if self._status:
            tail += f"  {self._status}"
        width = max(10, min(40, columns - len(head) - len(tail) - 3))
        filled = width * percent // 100
        line = f"{head}[{'#' * filled}{'-' * (width - filled)}]{tail}"
        return line[: max(1, columns - 1)]
