"""Another program's window to drag a file from, under an X server: `python drag_source_app.py
FILE X Y`. Shows a small window at (X, Y), prints `ready X Y W H` once it is on screen, and on
each mouse press starts a real drag (QDrag) of FILE's URL offering Copy and Move with Move
proposed, as a file manager that deletes the original after a Move does; prints `drag ended
ACTION` (copy, move, link or ignore: what the target took) when the drag is over. Runs until
killed."""

import sys
from pathlib import Path

from PySide6.QtCore import QMimeData, Qt, QTimer, QUrl
from PySide6.QtGui import QDrag
from PySide6.QtWidgets import QApplication, QWidget


class DragSource(QWidget):
    def __init__(self, file: Path) -> None:
        super().__init__()
        self.file = file
        self.setWindowTitle("drag-source")

    def mousePressEvent(self, event) -> None:
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(str(self.file))])
        drag = QDrag(self)
        drag.setMimeData(mime)
        action = drag.exec(
            Qt.DropAction.CopyAction | Qt.DropAction.MoveAction, Qt.DropAction.MoveAction
        )
        print(f"drag ended {action.name.removesuffix('Action').lower()}", flush=True)


def when_exposed(window: QWidget) -> None:
    handle = window.windowHandle()
    if handle is None or not handle.isExposed():
        QTimer.singleShot(20, lambda: when_exposed(window))
        return
    g = window.geometry()
    print(f"ready {g.x()} {g.y()} {g.width()} {g.height()}", flush=True)


app = QApplication(sys.argv[:1])
source = DragSource(Path(sys.argv[1]))
source.setGeometry(int(sys.argv[2]), int(sys.argv[3]), 120, 80)
source.show()
when_exposed(source)
sys.exit(app.exec())
