"""History: every upload, newest first, with search, Copy as…, Open, Delete from server, Forget.

The view shows `HistoryItem`s handed to it and emits what the user asked for.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QVBoxLayout,
    QWidget,
)

from desktop.core.history import HistoryItem
from desktop.core.jobs import JobState
from desktop.core.links import LinkFormat
from desktop.core.printable import printable
from desktop.core.units import human_age as when
from desktop.ui import theme
from desktop.ui.elided_label import ElidedLabel
from desktop.ui.queue import action_button, thumbnail_pixmap

THUMB = 40


class HistoryRow(QWidget):
    copy_as = Signal(str, str)  # key, LinkFormat value
    open_clicked = Signal(str)
    delete_clicked = Signal(str)
    forget_clicked = Signal(str)

    def __init__(self, item: HistoryItem, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.key = item.key
        colors = theme.Colors(self.palette())
        thumb = QLabel()
        thumb.setFixedSize(THUMB, THUMB)
        thumb.setAlignment(Qt.AlignmentFlag.AlignCenter)
        thumb.setPixmap(thumbnail_pixmap(item.thumbnail, THUMB, self.devicePixelRatioF()))
        name = ElidedLabel(item.name)
        name.setObjectName("RowName")
        state_color = {
            JobState.DONE: colors.success,
            JobState.FAILED: colors.danger,
            JobState.DELETED: colors.muted,
        }.get(item.state, colors.accent)
        state_text = "deleted" if item.state is JobState.DELETED else item.state.label.lower()
        self.state_label = QLabel(state_text)
        self.state_label.setStyleSheet(f"color: {state_color.name()};")
        detail = item.error or item.url or ""
        self.meta = ElidedLabel(
            printable("  ·  ".join(p for p in (when(item.created_at), detail) if p))
        )
        self.meta.setObjectName("Muted")

        has_link = bool(item.url) and item.state is JobState.DONE
        self.copy_button = action_button("copy", "Copy as…")
        menu = QMenu(self.copy_button)
        for fmt in LinkFormat:
            if fmt is LinkFormat.TEMPLATE:
                continue
            action = menu.addAction(fmt.label)
            action.triggered.connect(lambda _=False, f=fmt: self.copy_as.emit(self.key, f.value))
        template = menu.addAction("Custom template")
        template.triggered.connect(lambda: self.copy_as.emit(self.key, LinkFormat.TEMPLATE.value))
        self.copy_button.setMenu(menu)
        self.copy_button.setPopupMode(self.copy_button.ToolButtonPopupMode.InstantPopup)
        self.open_button = action_button("open", "Open in browser")
        self.delete_button = action_button("trash", "Delete from server")
        self.forget_button = action_button("forget", "Forget (remove from this list)")
        for button in (self.copy_button, self.open_button, self.delete_button):
            button.setEnabled(has_link)
        # A custom uploader's host gives a DeletionURL (opened in the browser) and no token.
        self.delete_button.setEnabled(has_link and bool(item.delete_token or item.delete_url))
        self.open_button.clicked.connect(lambda: self.open_clicked.emit(self.key))
        self.delete_button.clicked.connect(lambda: self.delete_clicked.emit(self.key))
        self.forget_button.clicked.connect(lambda: self.forget_clicked.emit(self.key))

        top = QHBoxLayout()
        top.addWidget(name, 1)
        top.addWidget(self.state_label)
        text = QVBoxLayout()
        text.setSpacing(2)
        text.addLayout(top)
        text.addWidget(self.meta)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.setSpacing(10)
        layout.addWidget(thumb)
        layout.addLayout(text, 1)
        for button in (self.copy_button, self.open_button, self.delete_button, self.forget_button):
            layout.addWidget(button)


class HistoryView(QWidget):
    search_changed = Signal(str)
    copy_as = Signal(str, str)
    open_clicked = Signal(str)
    delete_clicked = Signal(str)
    forget_clicked = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search by name or link")
        self.search.setClearButtonEnabled(True)
        self.search.setAccessibleName("Search history")
        self.search.textChanged.connect(self.search_changed)
        self.list = QListWidget()
        self.list.setObjectName("HistoryList")
        self.list.setFrameShape(QFrame.Shape.NoFrame)
        self.list.setSpacing(2)
        self.list.setUniformItemSizes(True)
        self.list.setVerticalScrollMode(QListWidget.ScrollMode.ScrollPerPixel)
        self.empty = QLabel("Nothing uploaded yet.", alignment=Qt.AlignmentFlag.AlignCenter)
        self.empty.setObjectName("Muted")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addWidget(self.search)
        layout.addWidget(self.empty)
        layout.addWidget(self.list, 1)

    def show_items(self, items: list[HistoryItem]) -> None:
        self.list.clear()
        for item in items:
            row = HistoryRow(item)
            row.copy_as.connect(self.copy_as)
            row.open_clicked.connect(self.open_clicked)
            row.delete_clicked.connect(self.delete_clicked)
            row.forget_clicked.connect(self.forget_clicked)
            entry = QListWidgetItem()
            entry.setData(Qt.ItemDataRole.UserRole, item.key)
            entry.setSizeHint(QSize(0, THUMB + 16))
            self.list.addItem(entry)
            self.list.setItemWidget(entry, row)
        self.empty.setVisible(not items)
        self.list.setVisible(bool(items))

    def item_keys(self) -> list[str]:
        return [self.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.list.count())]

    def row(self, key: str) -> HistoryRow:
        for i in range(self.list.count()):
            entry = self.list.item(i)
            if entry.data(Qt.ItemDataRole.UserRole) == key:
                return self.list.itemWidget(entry)  # type: ignore[return-value]
        raise KeyError(key)
