"""Screenshots of the main window after a finished batch, for docs/screenshots/.

    python -m desktop.tools.screenshot [--out docs/screenshots]

Runs the real app pieces against the built-in server with sample images (one converted from BMP,
one refused as not an image), under a real X server: it starts Xvfb itself when no DISPLAY is
set. Writes main-window.png (light), main-window-dark.png (picdrop's dark palette),
main-window-gtk-dark.png (GTK's Adwaita:dark through Qt's gtk3 platform theme, when Qt has it)
and main-window-hidpi.png (QT_SCALE_FACTOR=2); the last two from child runs, as a platform
theme and a scale factor are chosen before Qt starts.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def x_display(size: str = "1600x1200") -> Iterator[None]:
    """Use $DISPLAY, or start Xvfb (`size`, 24 bit) on a free display number for the duration."""
    if os.environ.get("DISPLAY"):
        yield
        return
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        raise SystemExit("Xvfb is not installed (apt-get install xvfb)")
    # -displayfd: Xvfb picks a free display and writes its number to the pipe once ready.
    read_fd, write_fd = os.pipe()
    process = subprocess.Popen(
        [xvfb, "-displayfd", str(write_fd), "-screen", "0", f"{size}x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        number = pipe.readline().strip()
    if not number:
        process.kill()
        raise SystemExit("Xvfb did not start")
    os.environ["DISPLAY"] = f":{number}"
    try:
        yield
    finally:
        process.terminate()
        process.wait()


def sample_images(folder: Path) -> list[Path]:
    """A few pleasant pictures (gradients and shapes), one with GPS metadata, one BMP that the
    server refuses, so every row state shows."""
    from PIL import Image, ImageDraw

    def landscape(size, sky, ground, sun) -> Image.Image:
        w, h = size
        image = Image.new("RGB", size)
        draw = ImageDraw.Draw(image)
        for y in range(h):
            t = y / h
            color = tuple(int(sky[0][i] * (1 - t) + sky[1][i] * t) for i in range(3))
            draw.line([(0, y), (w, y)], fill=color)
        draw.ellipse([w * 0.62, h * 0.18, w * 0.78, h * 0.18 + w * 0.16], fill=sun)
        draw.polygon(
            [(0, h), (w * 0.3, h * 0.5), (w * 0.55, h * 0.8), (w * 0.75, h * 0.55), (w, h)],
            fill=ground,
        )
        return image

    folder.mkdir(parents=True, exist_ok=True)
    files = []
    specs = [
        ("alps-sunrise.jpg", ((255, 183, 130), (255, 236, 210)), (70, 90, 140), (255, 240, 200)),
        ("harbour-at-dusk.png", ((40, 50, 110), (230, 120, 140)), (25, 30, 60), (255, 200, 120)),
        ("meadow.webp", ((120, 190, 255), (220, 240, 255)), (70, 150, 80), (255, 250, 210)),
        ("desert-road.jpg", ((250, 200, 120), (255, 240, 220)), (190, 120, 70), (255, 255, 230)),
    ]
    for index, (name, sky, ground, sun) in enumerate(specs):
        image = landscape((1600, 1067), sky, ground, sun)
        path = folder / name
        options = {}
        if index == 0:  # a phone photo: camera and location inside
            exif = Image.Exif()
            exif[0x010F] = "Pixelphone"
            exif[0x0110] = "Pixelphone 9 Pro"
            gps = exif.get_ifd(0x8825)
            gps.update({1: "N", 2: (46.0, 33.0, 0.0), 3: "E", 4: (7.0, 58.0, 0.0)})
            options["exif"] = exif
        buffer = io.BytesIO()
        image.save(
            buffer, {"jpg": "JPEG", "png": "PNG", "webp": "WEBP"}[name.rsplit(".")[-1]], **options
        )
        path.write_bytes(buffer.getvalue())
        files.append(path)
    scan = folder / "scanned-receipt.bmp"
    receipt = Image.new("RGB", (200, 300), (250, 248, 240))
    draw = ImageDraw.Draw(receipt)
    for row, width in enumerate((150, 110, 160, 90, 140, 120, 60)):  # lines of "text"
        draw.rectangle([20, 30 + row * 34, 20 + width, 42 + row * 34], fill=(120, 120, 130))
    receipt.save(scan, "BMP")
    files.append(scan)
    notes = folder / "meeting-notes.txt"  # dropped by mistake: refused before it is sent
    notes.write_text("Budget: keep it between us.\n")
    files.append(notes)
    return files


def wait_for(signal, timeout_ms: int = 60_000) -> None:
    """Run the event loop until `signal` fires; a timeout is an error, not a wrong screenshot."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    timer = QTimer(singleShot=True, interval=timeout_ms)
    timer.timeout.connect(loop.quit)
    signal.connect(loop.quit)
    timer.start()
    loop.exec()
    signal.disconnect(loop.quit)
    if not timer.isActive():
        raise TimeoutError(f"no {signal} within {timeout_ms / 1000:g} s")
    timer.stop()


def wait_until(done, timeout_ms: int = 60_000) -> None:
    """Run the event loop until `done()` (thumbnails come after a batch's links)."""
    for _ in range(timeout_ms // 50):
        if done():
            return
        settle(50)
    if not done():
        raise TimeoutError(f"still waiting after {timeout_ms / 1000:g} s")


def settle(ms: int = 300) -> None:
    """Let pending paints and layouts run (event loop time, not a sleep)."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def capture(out_dir: Path, variants: list[tuple[bool, str]]) -> list[Path]:
    """`variants`: (dark, file name) pairs, each a fresh window after the same batch."""
    os.environ.setdefault("QT_QPA_PLATFORM", "xcb")
    from desktop.app import create_qt_app
    from desktop.clipboard import LinkCopier
    from desktop.core.config import AppConfig
    from desktop.core.history import HistoryStore
    from desktop.core.intake import file_sources
    from desktop.embedded import start_embedded_server
    from desktop.service import UploadService
    from desktop.ui import theme
    from desktop.ui.main_window import MainWindow

    app = create_qt_app(sys.argv[:1])
    written = []
    # A scratch folder: a server file still being closed when it is removed (seen once as
    # "Directory not empty: 'server'") must not fail a run whose screenshots are written.
    with tempfile.TemporaryDirectory(prefix="picdrop-shot-", ignore_cleanup_errors=True) as tmp:
        tmp_path = Path(tmp)
        server = start_embedded_server(tmp_path / "server")
        history = HistoryStore(tmp_path / "history.sqlite3")
        files = sample_images(tmp_path / "pictures")
        try:
            for dark, name in variants:
                if not os.environ.get("QT_QPA_PLATFORMTHEME"):  # a platform theme has its own
                    theme.apply_color_scheme(app, dark=dark)
                config = AppConfig()
                uploads = UploadService(history, server.url)
                copier = LinkCopier(uploads, app.clipboard(), lambda c=config: c)
                window = MainWindow(uploads, history, config, copier)
                window.set_server_info(server.url, "local")
                window.resize(800, 860)
                window.show()
                uploads.enqueue(file_sources(files))
                wait_for(uploads.batch_finished)
                done = [j for j in uploads.jobs() if j.result is not None]
                wait_until(lambda d=done: all(j.thumbnail for j in d))
                settle()
                path = out_dir / name
                out_dir.mkdir(parents=True, exist_ok=True)
                window.grab().save(str(path))
                written.append(path)
                window.close()
                uploads.shutdown()
                window.deleteLater()
                uploads.deleteLater()
                settle(50)
        finally:
            history.close()
            server.stop()
    return written


# Child runs: (the environment Qt must start with, the screenshot it writes).
CHILD_RUNS = {
    "gtk-dark": ({"QT_QPA_PLATFORMTHEME": "gtk3", "GTK_THEME": "Adwaita:dark"},
                 "main-window-gtk-dark.png"),
    "hidpi": ({"QT_SCALE_FACTOR": "2"}, "main-window-hidpi.png"),
}  # fmt: skip


def gtk3_theme_available() -> bool:
    import PySide6

    plugins = Path(PySide6.__file__).parent / "Qt" / "plugins" / "platformthemes"
    return (plugins / "libqgtk3.so").exists()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    parser.add_argument("--only", choices=tuple(CHILD_RUNS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    with x_display():
        if args.only:
            environment, name = CHILD_RUNS[args.only]
            os.environ.update(environment)
            written = capture(args.out, [(False, name)])
        else:
            written = capture(
                args.out, [(False, "main-window.png"), (True, "main-window-dark.png")]
            )
            for only in CHILD_RUNS:
                if only == "gtk-dark" and not gtk3_theme_available():
                    print("no gtk3 platform theme in this Qt: main-window-gtk-dark.png skipped")
                    continue
                command = [sys.executable, "-m", "desktop.tools.screenshot", "--out"]
                subprocess.run([*command, str(args.out), "--only", only], check=True)
        for path in written:
            print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
