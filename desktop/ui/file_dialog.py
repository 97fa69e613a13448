"""The file dialogs: images to upload (for the window and the tray alike), uploaders to import."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QStandardPaths
from PySide6.QtWidgets import QFileDialog, QWidget

from desktop.core.intake import IMAGE_SUFFIXES, FileSource


def start_folder(last_folder: str = "") -> str:
    """Where a file dialog opens: the last folder used, else Pictures, else home."""
    if last_folder and Path(last_folder).is_dir():
        return last_folder
    pictures = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.PicturesLocation)
    return pictures if pictures and Path(pictures).is_dir() else str(Path.home())


def choose_images(parent: QWidget | None = None, last_folder: str = "") -> list[FileSource]:
    """The files the user picked (none when the dialog was cancelled)."""
    patterns = " ".join(f"*{s}" for s in sorted(IMAGE_SUFFIXES))
    files, _ = QFileDialog.getOpenFileNames(
        parent,
        "Choose images to upload",
        start_folder(last_folder),
        f"Images ({patterns});;All files (*)",
    )
    return [FileSource(Path(f)) for f in files]


def choose_save_path(parent: QWidget | None, name: str, last_folder: str = "") -> Path | None:
    """Where to save an uploaded image (None when cancelled)."""
    path, _ = QFileDialog.getSaveFileName(
        parent, "Save image as", str(Path(start_folder(last_folder)) / name)
    )
    return Path(path) if path else None


def choose_uploaders(parent: QWidget | None = None) -> list[Path]:
    """ShareX custom uploader files (.sxcu) to import."""
    files, _ = QFileDialog.getOpenFileNames(
        parent,
        "Import ShareX custom uploaders",
        "",
        "ShareX custom uploaders (*.sxcu);;All files (*)",
    )
    return [Path(f) for f in files]


def choose_export_file(parent: QWidget | None, fmt: str) -> Path | None:
    """Where to save a History export ("csv" or "json"); None when the dialog was cancelled."""
    kind = {"csv": "CSV (*.csv)", "json": "JSON (*.json)"}[fmt]
    name, _ = QFileDialog.getSaveFileName(parent, "Export history", f"picdrop-history.{fmt}", kind)
    if not name:
        return None
    path = Path(name)
    return path if path.suffix else path.with_suffix(f".{fmt}")
