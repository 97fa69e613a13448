"""The screenshot editor: the captured image at full size, a tool bar (shapes, text, numbered
steps, highlighter, crop, and the two redactions), undo/redo, and Upload, Copy image, Save as…,
Cancel.

A thin view over `desktop.core.markup.MarkupDocument`: mouse input becomes marks, the document's
rendering is shown. It emits what the user chose (with the flat PNG or image) and does no I/O.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QCloseEvent,
    QImage,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QPaintEvent,
)
from PySide6.QtWidgets import (
    QDialogButtonBox,
    QFileDialog,
    QInputDialog,
    QPushButton,
    QScrollArea,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from desktop.core.markup import Mark, MarkupDocument, Tool
from desktop.ui.pil_qt import from_qimage, to_qimage

# The tool bar: (tool, label, shortcut)
TOOLS = [
    (Tool.RECTANGLE, "Rectangle", "R"),
    (Tool.ARROW, "Arrow", "A"),
    (Tool.LINE, "Line", "L"),
    (Tool.FREEHAND, "Draw", "D"),
    (Tool.TEXT, "Text", "T"),
    (Tool.HIGHLIGHT, "Highlight", "H"),
    (Tool.STEP, "Step", "N"),
    (Tool.CROP, "Crop", "C"),
    (Tool.FILL, "Redact: fill", "B"),
    (Tool.PIXELATE, "Redact: pixelate", "P"),
]
POINT_TOOLS = {Tool.TEXT, Tool.STEP}  # placed by a click
# The queue rows' and History's menu entry that opens an uploaded image here, for a new upload.
EDIT_LABEL = "Annotate / redact…"


class Canvas(QWidget):
    """The rendered document at one image pixel per logical pixel; turns drags into marks."""

    def __init__(self, editor: MarkupEditor) -> None:
        super().__init__()
        self.editor = editor
        self.image = QImage()
        self._points: list[tuple[int, int]] = []

    def show_image(self, image: QImage) -> None:
        self.image = image
        self.setFixedSize(image.size())
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.drawImage(QPoint(0, 0), self.image)
        painter.end()

    def _point(self, event: QMouseEvent) -> tuple[int, int]:
        p = event.position().toPoint()
        return (p.x(), p.y())

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._points = [self._point(event)]

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if not self._points or self.editor.tool in POINT_TOOLS:
            return
        point = self._point(event)
        if self.editor.tool is Tool.FREEHAND:
            self._points.append(point)
        else:
            self._points[1:] = [point]
        self.editor.preview(Mark(self.editor.tool, tuple(self._points)))

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton or not self._points:
            return
        points, self._points = self._points, []
        if self.editor.tool not in POINT_TOOLS:
            end = self._point(event)
            if self.editor.tool is Tool.FREEHAND:
                points.append(end)
            else:
                points[1:] = [end]
            if points[0] == points[-1]:
                self.editor.preview(None)
                return
        self.editor.place(self.editor.tool, tuple(points))


class MarkupEditor(QWidget):
    upload_requested = Signal(bytes)  # the flat PNG
    copy_requested = Signal(QImage)
    save_requested = Signal(str, bytes)  # path, PNG
    cancelled = Signal()
    changed = Signal()  # after every mark, undo and redo (tests wait on it)

    def __init__(
        self, image: QImage, title: str = "Edit screenshot", parent: QWidget | None = None
    ) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setObjectName("MarkupEditor")
        self.setWindowTitle(f"{title} — picdrop")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.document = MarkupDocument(from_qimage(image))
        self.tool = Tool.RECTANGLE
        self._decided = False

        toolbar = QToolBar("Tools", self)
        group = QActionGroup(self)
        self.tool_actions: dict[Tool, QAction] = {}
        for tool, label, key in TOOLS:
            action = QAction(label, self, checkable=True, checked=tool is self.tool)
            action.setShortcut(QKeySequence(key))
            action.setToolTip(f"{label} ({key})")
            action.triggered.connect(lambda _checked=False, t=tool: self.set_tool(t))
            group.addAction(action)
            toolbar.addAction(action)
            self.tool_actions[tool] = action
        toolbar.addSeparator()
        self.undo_action = toolbar.addAction("Undo", self.undo)
        self.undo_action.setShortcuts([QKeySequence.StandardKey.Undo])
        self.redo_action = toolbar.addAction("Redo", self.redo)
        self.redo_action.setShortcuts([QKeySequence.StandardKey.Redo, QKeySequence("Ctrl+Y")])

        self.canvas = Canvas(self)
        scroll = QScrollArea()
        scroll.setWidget(self.canvas)
        scroll.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)

        buttons = QDialogButtonBox()
        self.upload_button = QPushButton("Upload")
        self.upload_button.setDefault(True)
        self.upload_button.setShortcut(QKeySequence("Ctrl+Return"))
        self.copy_button = QPushButton("Copy image")
        self.copy_button.setShortcut(QKeySequence.StandardKey.Copy)
        self.save_button = QPushButton("Save as…")
        self.save_button.setShortcut(QKeySequence.StandardKey.Save)
        cancel = buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        for button in (self.upload_button, self.copy_button, self.save_button):
            buttons.addButton(button, QDialogButtonBox.ButtonRole.ActionRole)
        self.upload_button.clicked.connect(self.upload)
        self.copy_button.clicked.connect(self.copy_image)
        self.save_button.clicked.connect(self.save_as)
        cancel.clicked.connect(self.close)

        layout = QVBoxLayout(self)
        layout.addWidget(toolbar)
        layout.addWidget(scroll, 1)
        layout.addWidget(buttons)
        self.refresh()
        screen = self.screen().availableGeometry()
        hint = self.sizeHint()
        self.resize(
            min(hint.width() + 40, screen.width()), min(hint.height() + 40, screen.height())
        )

    # -- editing ------------------------------------------------------------------------------
    def set_tool(self, tool: Tool) -> None:
        self.tool = tool
        self.tool_actions[tool].setChecked(True)

    def place(self, tool: Tool, points: tuple[tuple[int, int], ...]) -> None:
        text = ""
        if tool is Tool.TEXT:
            text, ok = QInputDialog.getText(self, "Text", "Text to place:")
            if not ok or not text:
                self.refresh()
                return
        self.document.add(Mark(tool, points, text=text))
        self.refresh()

    def preview(self, mark: Mark | None) -> None:
        self.canvas.show_image(to_qimage(self.document.render(mark)))

    def undo(self) -> None:
        self.document.undo()
        self.refresh()

    def redo(self) -> None:
        self.document.redo()
        self.refresh()

    def refresh(self) -> None:
        self.preview(None)
        self.undo_action.setEnabled(self.document.can_undo())
        self.redo_action.setEnabled(self.document.can_redo())
        self.changed.emit()

    # -- the way out --------------------------------------------------------------------------
    def upload(self) -> None:
        self._decide()
        self.upload_requested.emit(self.document.export_png())

    def copy_image(self) -> None:
        self._decide()
        self.copy_requested.emit(to_qimage(self.document.render()))

    def save_as(self) -> None:
        path, _filter = QFileDialog.getSaveFileName(
            self, "Save screenshot", "screenshot.png", "PNG images (*.png)"
        )
        if path:
            self._decide()
            self.save_requested.emit(path, self.document.export_png())

    def _decide(self) -> None:
        self._decided = True
        self.close()

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.close()
        else:
            super().keyPressEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._decided:
            self._decided = True
            self.cancelled.emit()
        super().closeEvent(event)
