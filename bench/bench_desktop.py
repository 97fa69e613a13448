"""Desktop: from a drop on the real window to the link on the clipboard, against `curl -F`.

    python bench/bench_desktop.py [--runs 7] [--batch 10]

The app's real pieces run offscreen in this process (UploadService, LinkCopier, MainWindow; Qt's
`offscreen` platform, so no display is needed); the server is `picdrop-server serve` in its own
process, and curl uploads the same kind of file to that same server in the same run.

- drop-to-clipboard: a synthesized drag-enter + drop of a 2.6 MB JPEG on the drop zone, until
  the clipboard's `dataChanged`; reference: curl's own `time_total` for `curl -F file=@...` of a
  file like it (unique bytes each time, so the server never deduplicates). Each is timed with
  the app idle: after the row's thumbnail is made.
- GUI stall: a 1 ms QTimer on the GUI thread records the longest gap between its ticks while a
  batch of 10 such files is dropped at once and uploaded; the stall is that gap less the interval.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from bench.harness import (
    Row,
    have,
    jpeg_of_size,
    median,
    picdrop_server,
    print_table,
    unique_variants,
)

PROBE_INTERVAL_MS = 1


def _curl_ms(url: str, path: Path) -> float:
    out = subprocess.run(
        ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{time_total}",
         "-F", f"file=@{path};type=image/jpeg", f"{url}/api/upload"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    if out[0] != "201":
        raise RuntimeError(f"curl upload answered {out[0]}")
    return float(out[1]) * 1000


class StallProbe:
    """Longest gap between ticks of a fast QTimer on the GUI thread (the event loop's stalls)."""

    def __init__(self) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(PROBE_INTERVAL_MS)
        self.timer.timeout.connect(self._tick)
        self.longest = 0.0
        self._last = 0.0

    def _tick(self) -> None:
        now = time.perf_counter()
        self.longest = max(self.longest, now - self._last)
        self._last = now

    def start(self) -> None:
        self.longest = 0.0
        self._last = time.perf_counter()
        self.timer.start()

    def stop(self) -> float:
        """The longest stall in ms (gap less the timer's own interval)."""
        self.timer.stop()
        self._tick()
        return max(0.0, self.longest * 1000 - PROBE_INTERVAL_MS)


def _drop(widget, paths: list[Path]) -> None:
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent
    from PySide6.QtWidgets import QApplication

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    center = widget.rect().center()
    rest = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier)  # fmt: skip
    enter = QDragEnterEvent(center, *rest)  # a QPoint here, a QPointF in QDropEvent
    QApplication.sendEvent(widget, enter)
    if not enter.isAccepted():
        raise RuntimeError("the drop zone refused the drag")
    QApplication.sendEvent(widget, QDropEvent(QPointF(center), *rest))


def _wait(condition, timeout: float = 60.0) -> None:
    from PySide6.QtWidgets import QApplication

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the desktop upload did not finish")
        QApplication.processEvents()
        time.sleep(0.0002)


def run(runs: int = 7, batch: int = 10, batches: int = 3) -> list[Row]:
    if not have("curl"):
        print("bench_desktop: skipped, needs curl")
        return []
    from PySide6.QtWidgets import QApplication

    from desktop.clipboard import LinkCopier
    from desktop.core.config import AppConfig
    from desktop.core.history import HistoryStore
    from desktop.gc_guard import GuiThreadCollector
    from desktop.service import UploadService
    from desktop.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication(["picdrop-bench"])
    base = jpeg_of_size(2_600_000, seed=3)
    files = unique_variants(base, 2 * runs + 2 + batch * batches)
    ours: list[float] = []
    theirs: list[float] = []
    stalls: list[float] = []
    with (
        tempfile.TemporaryDirectory(prefix="picdrop-desktop-bench-") as tmp,
        picdrop_server() as (
            url,
            _proc,
        ),
    ):
        root = Path(tmp)
        paths = []
        for i, data in enumerate(files):
            path = root / f"photo-{i}.jpg"
            path.write_bytes(data)
            paths.append(path)
        history = HistoryStore(root / "client" / "history.sqlite3")
        collector = GuiThreadCollector()
        service = UploadService(history, url)
        config = AppConfig()
        copier = LinkCopier(service, app.clipboard(), lambda: config, parent=service)
        window = MainWindow(service, history, config, copier)
        window.show()
        changes = []
        app.clipboard().dataChanged.connect(lambda: changes.append(time.perf_counter()))
        try:
            app.processEvents()
            todo = iter(paths)

            def settled() -> bool:  # the rows' thumbnails are made: the app is idle again
                return all(job.thumbnail is not None for job in service.jobs())

            # Warm-up: first drop (imports, first connection) and first curl.
            _drop(window.drop_zone, [next(todo)])
            _wait(lambda: len(changes) == 1 and settled())
            _curl_ms(url, next(todo))
            for _ in range(runs):
                theirs.append(_curl_ms(url, next(todo)))
                before = len(changes)
                start = time.perf_counter()
                _drop(window.drop_zone, [next(todo)])
                _wait(lambda b=before: len(changes) > b)
                ours.append((changes[-1] - start) * 1000)
                _wait(settled)  # neither curl nor the next drop shares the CPU with a thumbnail
            probe = StallProbe()
            finished: list[str] = []
            service.batch_finished.connect(finished.append)
            for i in range(batches):
                probe.start()
                _drop(window.drop_zone, [next(todo) for _ in range(batch)])
                _wait(lambda n=i + 1: len(finished) >= n, timeout=120)
                stalls.append(probe.stop())
        finally:
            import shiboken6

            window.close()
            service.shutdown()
            collector.stop()
            history.close()
            for obj in (window, service):
                if shiboken6.isValid(obj):
                    shiboken6.delete(obj)
    curl = median(theirs)
    return [
        Row(
            "desktop 2.6 MB JPEG",
            "drop to clipboard",
            median(ours),
            "ms",
            "curl -F",
            curl,
            target=f"<= 1.3x + 20 ms ({1.3 * curl + 20:.0f} ms)",
            goal=("<=", "value", 1.3 * curl + 20),
        ),
        Row(
            "desktop 2.6 MB JPEG",
            f"longest GUI stall, {batch}-file batch",
            median(stalls),
            "ms",
            target="<= 50 ms",
            goal=("<=", "value", 50),
        ),
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--json", action="store_true", help="one JSON object per row")
    args = parser.parse_args()
    rows = run(args.runs, args.batch)
    if args.json:
        for row in rows:
            print(json.dumps(dataclasses.asdict(row)))
    else:
        print_table(rows)
    sys.stdout.flush()
    # Leave without Python's final collection of Qt wrappers (PySide may crash in it at exit).
    os._exit(0)
