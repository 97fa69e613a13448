"""Screenshots of the History tab, for docs/screenshots/.

    python -m desktop.tools.history_screenshot [--out docs/screenshots]

The real window on the built-in server with the sample images of `desktop.tools.screenshot` (one
refused, so a failed row shows), one upload on a server that is gone, under a real X server
(Xvfb is started when no DISPLAY is set). Writes history.png (light, list) and
history-grid-dark.png (dark, grid of thumbnails).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from desktop.tools.screenshot import REPO, sample_images, settle, wait_for, wait_until, x_display

GONE = "https://img.old-host.example"  # nothing answers there: shown as not reachable


def capture(out_dir: Path) -> list[Path]:
    os.environ.setdefault("QT_QPA_PLATFORM", "xcb")
    from desktop.app import connect_server_actions, create_qt_app
    from desktop.clipboard import LinkCopier
    from desktop.core.api import UploadResult
    from desktop.core.config import AppConfig
    from desktop.core.history import HistoryItem, HistoryStore
    from desktop.core.intake import file_sources
    from desktop.core.jobs import JobState
    from desktop.embedded import start_embedded_server
    from desktop.server_actions import ServerActions
    from desktop.service import UploadService
    from desktop.ui import theme
    from desktop.ui.main_window import MainWindow

    app = create_qt_app(sys.argv[:1])
    written = []
    with tempfile.TemporaryDirectory(prefix="picdrop-shot-") as tmp:
        tmp_path = Path(tmp)
        server = start_embedded_server(tmp_path / "server")
        history = HistoryStore(tmp_path / "history.sqlite3")
        old = HistoryItem("old", "old-upload-idempotency", "b", "last-summer.jpg", 1, "image/jpeg",
                          JobState.QUEUED, GONE, 1_700_000_000.0)  # fmt: skip
        history.add_queued(old, b"x")
        link = f"{GONE}/i/Xb3kP9.jpg"
        history.set_done("old", UploadResult("Xb3kP9", link, link, link, link, "t", 1, 1, 1,
                                             "image/jpeg", ""))  # fmt: skip
        files = sample_images(tmp_path / "pictures")
        try:
            config = AppConfig()
            uploads = UploadService(history, server.url)
            copier = LinkCopier(uploads, app.clipboard(), lambda: config)
            actions = ServerActions(history)
            uploads.enqueue(file_sources(files))
            wait_for(uploads.batch_finished)
            done = [j for j in uploads.jobs() if j.result is not None]  # the refused have none
            wait_until(lambda: all(j.thumbnail for j in done))
            for dark, grid, name in ((False, False, "history.png"),
                                     (True, True, "history-grid-dark.png")):  # fmt: skip
                theme.apply_color_scheme(app, dark=dark)
                window = MainWindow(uploads, history, config, copier)
                connect_server_actions(actions, window, uploads)
                window.set_server_info(server.url, "local")
                window.resize(800, 700)
                window.show()
                window.tabs.setCurrentIndex(1)
                window.history_view.set_grid(grid)
                model = window.history_model
                wait_until(lambda m=model: m.reachable.get(GONE) is False)
                wait_until(  # every thumbnail there (the old upload has none)
                    lambda m=model: all(
                        m.index(n).data(1) is not None or m.item(n).server == GONE
                        for n in range(m.rowCount())
                    )
                )
                keys = model.keys()
                failed = [k for k in keys if history.get(k).state is JobState.FAILED]
                window.history_view.select(failed[:1] or keys[:1])
                settle()
                path = out_dir / name
                out_dir.mkdir(parents=True, exist_ok=True)
                window.grab().save(str(path))
                written.append(path)
                window.close()
                window.deleteLater()
                settle(50)
            uploads.shutdown()
            actions.shutdown()
        finally:
            history.close()
            server.stop()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    args = parser.parse_args(argv)
    with x_display():
        for path in capture(args.out):
            print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
