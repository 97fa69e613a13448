"""The questions asked at start-up when what picdrop keeps on disk cannot be opened."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QMessageBox

from desktop import APP_DISPLAY_NAME
from desktop.core.history import HistoryUnavailable

KEEP_ASIDE = "Keep It Aside and Start"


def _ask(text: str, detail: str, *, can_keep_aside: bool) -> bool:
    """True: the user chose to keep the damaged part aside and start; False: quit."""
    box = QMessageBox()
    box.setWindowTitle(APP_DISPLAY_NAME)
    box.setIcon(QMessageBox.Icon.Warning if can_keep_aside else QMessageBox.Icon.Critical)
    box.setText(text)
    box.setInformativeText(detail)
    keep = box.addButton(KEEP_ASIDE, QMessageBox.ButtonRole.AcceptRole) if can_keep_aside else None
    box.addButton("Quit", QMessageBox.ButtonRole.RejectRole)
    box.exec()
    return keep is not None and box.clickedButton() is keep


def start_afresh(problem: HistoryUnavailable) -> bool:
    """Whether to keep a damaged history aside and begin a new one; a history that cannot be
    opened at all is only reported. False: the app does not start."""
    if problem.damaged:
        return _ask(
            "Your upload history is damaged and cannot be read.",
            "picdrop can keep the damaged file beside the new one, under a dated name, and "
            "begin a new history. Your uploads stay online; their delete links are in the old "
            f"file.\n\n{problem.path}",
            can_keep_aside=True,
        )
    said = str(problem)
    return _ask(
        "picdrop cannot open its upload history.",
        f"{said[:1].upper()}{said[1:]}.\n\nCheck that its folder can be written, then start again.",
        can_keep_aside=False,
    )


def start_new_local_server(server_dir: Path) -> bool:
    """Whether to keep the built-in server's damaged data aside and start it afresh."""
    return _ask(
        "The built-in server's catalog is damaged and cannot be read.",
        "picdrop can keep the built-in server's folder, with every image it stored, under a "
        "dated name beside the new one and start the server afresh. Links to images on this "
        "computer stop working; uploads to other servers are not affected."
        f"\n\n{server_dir}",
        can_keep_aside=True,
    )
