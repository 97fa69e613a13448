"""Finding files under `assets/`, from a source checkout or a PyInstaller bundle."""

from __future__ import annotations

import sys
from pathlib import Path


def assets_root() -> Path:
    # A frozen build unpacks its data files under sys._MEIPASS (build.spec puts assets/ there).
    if getattr(sys, "frozen", False) and hasattr(sys, "_MEIPASS"):
        return Path(sys._MEIPASS) / "assets"
    return Path(__file__).resolve().parent.parent / "assets"


def asset_path(name: str) -> Path:
    """`asset_path("icons/picdrop.svg")`; raises FileNotFoundError with the path it tried."""
    path = assets_root() / name
    if not path.exists():
        raise FileNotFoundError(f"missing asset: {path}")
    return path
