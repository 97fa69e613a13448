"""Desktop History with a large history: window, opening the tab, search, scrolling, updates.

    python -m bench.bench_history [--sizes 10000,50000,100000] [--json]

Each size is bulk-filled into a fresh history database (every row with a 96 px thumbnail in the
thumbnails table, names like a camera's, one in a thousand named "holiday"), then the real
MainWindow runs offscreen in this process on it. Every figure is how long the GUI thread could not
answer (the longest gap between ticks of a 1 ms timer while the step and what it causes settle),
beside the same with an empty history.

- window shown: MainWindow built and shown (History is not read before its tab is shown);
- open History: the tab shown and its first rows painted;
- search: a filter applied and painted (typing is debounced: one search per pause), for a rare
  word ("holiday"), a word in every name ("img"), and two letters (too short for the index: the
  view does not search with them);
- scroll: the longest stall while scrolling from the top to the very end, a step every 10 ms,
  page after page read as it comes into view; beside it, the GUI thread's own CPU time in that
  stall (the rest is waiting for a core: on a loaded machine, most of it);
- batch: 10 uploads finishing while History is open (the changes applied row by row).
Targets (issue 22, at 50k): window no later than empty + 100 ms, RSS < 180 MB, no stall over
50 ms.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from bench.bench_desktop import StallProbe
from bench.harness import Row, print_table

SIZES = (10_000, 50_000, 100_000)
STALL_MS = 50.0
SETTLE_MS = 300


def thumbnail_png() -> bytes:
    from PIL import Image

    image = Image.radial_gradient("L").resize((96, 96)).convert("RGB")
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def fill(path: Path, size: int) -> None:
    from desktop.core.history import HistoryStore

    HistoryStore(path).close()  # the schema, the search index and its triggers
    thumb = thumbnail_png()
    db = sqlite3.connect(path)
    rows = []
    for n in range(size):
        name = "holiday.jpg" if n % 1000 == 7 else f"IMG_{n:07d}.jpg"
        key = f"k{n:08d}"
        rows.append((key, f"{key}-idempotency", "b", name, 2_000_000, "image/jpeg", "done",
                     "https://img.example", f"id{n}", f"https://img.example/i/id{n}.jpg",
                     f"https://img.example/id{n}", float(n), float(n)))  # fmt: skip
    db.executemany(
        "INSERT INTO uploads (key, idem_key, batch, name, size, mime, state, server, image_id, "
        "url, page_url, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    db.executemany(
        "INSERT INTO thumbnails (key, data) VALUES (?, ?)", [(r[0], thumb) for r in rows]
    )
    db.commit()
    db.close()


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def busy_ms(app, action) -> float:
    """How long `action` and the events it causes keep the GUI thread busy."""
    start = time.perf_counter()
    action()
    app.processEvents()
    return (time.perf_counter() - start) * 1000


def stall_ms(action, settle_ms: int = SETTLE_MS) -> float:
    """The longest stall of the running event loop while `action` runs and its consequences
    (pages, painting, thumbnails arriving) settle."""
    from PySide6.QtCore import QEventLoop, QTimer

    probe = StallProbe()
    probe.start()
    QTimer.singleShot(0, action)
    loop = QEventLoop()
    QTimer.singleShot(settle_ms, loop.quit)
    loop.exec()
    return probe.stop()


class WorkProbe(StallProbe):
    """A StallProbe that also keeps the GUI thread's CPU time during its longest stall."""

    def start(self) -> None:
        self.longest_cpu = 0.0
        self._cpu = time.thread_time()
        super().start()

    def _tick(self) -> None:
        gap, cpu = time.perf_counter() - self._last, time.thread_time()
        if gap > self.longest:
            self.longest_cpu = (cpu - self._cpu) * 1000
        self._cpu = cpu
        super()._tick()


def scroll_stall(view, model) -> tuple[float, float]:
    """The longest stall while scrolling from the top to the very end, a step every 10 ms, and
    the GUI thread's CPU time in it."""
    from PySide6.QtCore import QEventLoop, QTimer

    bar = view.list.verticalScrollBar()
    loop = QEventLoop()
    probe = WorkProbe()

    def step() -> None:
        if not model.canFetchMore(model.index(-1)) and bar.value() == bar.maximum():
            loop.quit()
        view.list.scrollToBottom()

    timer = QTimer(interval=10)
    timer.timeout.connect(step)
    probe.start()
    timer.start()
    loop.exec()
    timer.stop()
    return probe.stop(), probe.longest_cpu


def measure(app, size: int) -> dict[str, float]:
    from desktop.clipboard import LinkCopier
    from desktop.core.config import AppConfig
    from desktop.core.history import HistoryStore
    from desktop.service import UploadService
    from desktop.ui.main_window import MainWindow

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "history.sqlite3"
        fill(path, size)
        store = HistoryStore(path)
        service = UploadService(store, "http://127.0.0.1:9")
        config = AppConfig()
        copier = LinkCopier(service, app.clipboard(), lambda: config)
        figures: dict[str, float] = {}
        window: MainWindow | None = None

        def build() -> None:
            nonlocal window
            window = MainWindow(service, store, config, copier)
            window.resize(780, 640)
            window.show()

        figures["window shown"] = busy_ms(app, build)
        assert window is not None
        figures["rss"] = rss_mb()
        figures["open History"] = stall_ms(lambda: window.tabs.setCurrentIndex(1))
        model, view = window.history_model, window.history_view
        for word in ("holiday", "img", "ho"):  # typed, then the debounce fires
            view.search.setText(word)
            figures[f"search {word!r}"] = stall_ms(view._search_timer.timeout.emit)
        view.search.clear()
        stall_ms(view._search_timer.timeout.emit)
        figures["scroll to the end (longest step)"], figures["scroll cpu"] = scroll_stall(
            view, model
        )
        figures["rows listed"] = len(model.keys())

        for n in range(10):  # as the pipeline writes: through the writer thread
            store.set_state(f"k{n:08d}", "failed", "The server refused it.", wait=False)
            service.history_changed.emit()
        store.flush()  # the window applies the changes once they are committed
        figures["10 uploads finish"] = stall_ms(window.refresh_history)
        figures["rss after"] = rss_mb()
        window.close()
        window.deleteLater()
        app.processEvents()
        service.shutdown()
        store.close()
        return figures


def run(sizes=SIZES) -> list[Row]:
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    measure(app, 0)  # warm-up: imports, styles, fonts
    empty = measure(app, 0)
    rows: list[Row] = []
    for size in sizes:
        got = measure(app, size)
        bench = f"history {size:,} items"
        rows.append(Row(bench, "window shown", got["window shown"], "ms", "empty history",
                        empty["window shown"], "<= empty + 100 ms",
                        ("<=", "value", empty["window shown"] + 100)))  # fmt: skip
        rows.append(Row(bench, "RSS, window shown", got["rss"], "MB", "", None, "< 180 MB",
                        ("<=", "value", 180.0)))  # fmt: skip
        for metric in ("open History", "search 'holiday'", "search 'img'", "search 'ho'",
                       "scroll to the end (longest step)", "10 uploads finish"):  # fmt: skip
            rows.append(Row(bench, f"GUI stall: {metric}", got[metric], "ms", "empty history",
                            empty.get(metric) or None, f"< {STALL_MS:.0f} ms",
                            ("<=", "value", STALL_MS)))  # fmt: skip
        rows.append(Row(bench, "GUI thread CPU in the longest scroll stall", got["scroll cpu"],
                        "ms"))  # fmt: skip
        rows.append(Row(bench, "RSS after scrolling everything", got["rss after"], "MB",
                        target="< 180 MB at 50k"))  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--json", action="store_true", help="one JSON object per row")
    args = parser.parse_args()
    rows = run(tuple(int(s) for s in args.sizes.split(",")))
    if args.json:
        for row in rows:
            print(json.dumps(dataclasses.asdict(row)))
    else:
        print_table(rows)


if __name__ == "__main__":
    main()
