"""The question asked at start-up when the upload history cannot be opened."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget

from desktop import APP_DISPLAY_NAME
from desktop.core.history import HistoryUnavailable


def start_afresh(problem: HistoryUnavailable, parent: QWidget | None = None) -> bool:
    """Whether to keep a damaged history aside and begin a new one; a history that cannot be
    opened at all is only reported. False: the app does not start."""
    box = QMessageBox(parent)
    box.setWindowTitle(APP_DISPLAY_NAME)
    box.setIcon(QMessageBox.Icon.Warning if problem.damaged else QMessageBox.Icon.Critical)
    if problem.damaged:
        box.setText("Your upload history is damaged and cannot be read.")
        box.setInformativeText(
            "picdrop can keep the damaged file beside the new one, under a dated name, and "
            "begin a new history. Your uploads stay online; their delete links are in the old "
            f"file.\n\n{problem.path}"
        )
        fresh = box.addButton("Keep It Aside and Start", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Quit", QMessageBox.ButtonRole.RejectRole)
    else:
        box.setText("picdrop cannot open its upload history.")
        said = str(problem)
        box.setInformativeText(
            f"{said[:1].upper()}{said[1:]}.\n\n"
            "Check that its folder can be written, then start again."
        )
        fresh = None
        box.addButton("Quit", QMessageBox.ButtonRole.RejectRole)
    box.exec()
    return fresh is not None and box.clickedButton() is fresh
