"""Screenshots of the capture overlay and of the editor with redactions, for docs/screenshots/.

    python -m desktop.tools.capture_screenshot [--out docs/screenshots]

Renders offscreen (no display needed): a made-up account page stands for the screen, the overlay
shows it with a selection and the magnifier, the editor shows the selection marked up, the e-mail
address pixelated and the token filled. Writes capture-overlay.png and capture-editor.png.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCREEN = (960, 600)
SELECTION = (70, 90, 640, 330)  # x, y, w, h


def account_page():
    """A page with personal details on it: what people share screenshots of."""
    from PySide6.QtWidgets import QFormLayout, QFrame, QLabel, QVBoxLayout, QWidget

    page = QWidget()
    page.setFixedSize(*SCREEN)
    page.setStyleSheet("QWidget { background: #eef1f5; font-size: 17px; color: #1d2330; }"
                       "QFrame { background: white; border-radius: 10px; }")  # fmt: skip
    card = QFrame()
    form = QFormLayout(card)
    form.setContentsMargins(40, 36, 40, 36)
    form.setVerticalSpacing(22)
    title = QLabel("Account")
    title.setStyleSheet("font-size: 26px; font-weight: bold; background: white;")
    form.addRow(title)
    for label, value in (
        ("Name", "Jane Example"),
        ("E-mail", "jane.example@example.com"),
        ("API token", "sk_live_51Hx9QeT2mVb8RkLw0Zp"),
        ("Plan", "Team — 12 seats"),
    ):
        left, right = QLabel(label), QLabel(value)
        for widget in (left, right):
            widget.setStyleSheet("background: white;")
        form.addRow(left, right)
    layout = QVBoxLayout(page)
    layout.setContentsMargins(110, 120, 280, 140)
    layout.addWidget(card)
    return page


def settle(ms: int = 100) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def capture(out_dir: Path) -> list[Path]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QPoint, QRect
    from PySide6.QtTest import QTest

    from desktop.app import create_qt_app
    from desktop.core.markup import Mark, Tool
    from desktop.core.selection import Rect
    from desktop.ui.capture import CaptureOverlay
    from desktop.ui.editor import MarkupEditor

    app = create_qt_app(sys.argv[:1])
    out_dir.mkdir(parents=True, exist_ok=True)
    page = account_page()
    page.show()
    settle()
    shot = page.grab().toImage()
    page.close()

    overlay = CaptureOverlay(shot, QRect(0, 0, *SCREEN))
    overlay.show()
    settle()
    overlay.set_selection(Rect(*SELECTION))
    x, y, w, h = SELECTION
    QTest.mouseMove(overlay, QPoint(x + w, y + h))
    settle()
    overlay_path = out_dir / "capture-overlay.png"
    overlay.grab().save(str(overlay_path))
    region = overlay.region_pixels(Rect(*SELECTION))
    overlay.close()

    editor = MarkupEditor(region)
    for mark in (
        Mark(Tool.PIXELATE, ((160, 154), (420, 186))),  # the e-mail address
        Mark(Tool.FILL, ((160, 196), (470, 228))),  # the token
        Mark(Tool.RECTANGLE, ((70, 236), (330, 274))),
        Mark(Tool.ARROW, ((540, 292), (345, 258))),
        Mark(Tool.TEXT, ((420, 296),), text="upgrade this"),
        Mark(Tool.STEP, ((600, 60),)),
    ):
        editor.document.add(mark)
    editor.set_tool(Tool.PIXELATE)
    editor.refresh()
    editor.show()
    settle()
    editor_path = out_dir / "capture-editor.png"
    editor.grab().save(str(editor_path))
    editor.close()
    app.processEvents()  # the closed windows go before the application
    return [overlay_path, editor_path]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    args = parser.parse_args(argv)
    for path in capture(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
