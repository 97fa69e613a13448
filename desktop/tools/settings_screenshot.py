"""Screenshot of the Settings dialog with its global hotkeys section, for
docs/screenshots/settings-hotkeys.png: one key reported as taken by another program, one typed
wrong, as the user would meet them.

    python -m desktop.tools.settings_screenshot [--out docs/screenshots]

Runs under a real X server (it starts Xvfb itself when no DISPLAY is set).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from desktop.tools.screenshot import REPO, settle, x_display

NAME = "settings-hotkeys.png"


def capture(out_dir: Path) -> Path:
    os.environ.setdefault("QT_QPA_PLATFORM", "xcb")
    from desktop.app import create_qt_app
    from desktop.core.config import AppConfig
    from desktop.core.hotkeys import Action, parse_hotkey
    from desktop.hotkeys.backend import taken_message
    from desktop.ui.settings_dialog import SettingsDialog

    app = create_qt_app(sys.argv[:1])
    dialog = SettingsDialog(AppConfig())
    dialog.hotkeys.show_problems(
        {Action.REGION: taken_message(parse_hotkey(AppConfig().hotkey_region))}, ""
    )
    dialog.hotkeys.fields[Action.WINDOW].setText("Ctrl+Shift+F33")
    dialog.show()
    settle()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / NAME
    dialog.grab().save(str(path))
    dialog.close()
    app.processEvents()
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    args = parser.parse_args(argv)
    with x_display("1200x1000"):
        print(capture(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
