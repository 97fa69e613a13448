"""Where the desktop app keeps its files. History is user data, not cache: losing it loses the
delete tokens, so it lives in the DATA directory."""

from __future__ import annotations

import time
from pathlib import Path

import platformdirs

from desktop import APP_NAME


def user_data_dir() -> Path:
    # appauthor=False: no "picdrop/picdrop" nesting on Windows.
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def history_path(data_dir: Path) -> Path:
    return data_dir / "history.sqlite3"


def embedded_server_dir(data_dir: Path) -> Path:
    return data_dir / "server"


def destinations_dir(data_dir: Path) -> Path:
    return data_dir / "destinations"


def damaged_name(path: Path) -> Path:
    """Where a damaged file or folder is kept, beside where it was: `NAME.damaged-DATE-TIME`."""
    return path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
