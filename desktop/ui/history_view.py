"""History: every upload, newest first, as a list or a grid of thumbnails; search, filters by date
and server, and actions on the selection (Copy as…, Open, Retry, Delete from server, Forget,
Export).

The view shows a `HistoryModel` and emits what the user asked for; it reads no files itself.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from PySide6.QtCore import QItemSelectionModel, QPoint, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QIcon, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QMenu,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop.core.history import TRIGRAM, HistoryFilter, HistoryItem
from desktop.core.jobs import JobState
from desktop.core.links import LinkFormat
from desktop.ui import theme
from desktop.ui.editor import EDIT_LABEL
from desktop.ui.history_delegate import TILE, HistoryDelegate, server_label
from desktop.ui.history_model import HistoryModel, ItemRole

SEARCH_DELAY_MS = 200  # typing settles before the list is read again
DAY = 86400.0
# (label, since (days ago), until (days ago)); None: open-ended.
PERIODS = (
    ("Any time", None, None),
    ("Today", 0, None),
    ("Last 7 days", 7, None),
    ("Last 30 days", 30, None),
    ("Older than 30 days", None, 30),
)


def period_bounds(index: int, now: float) -> tuple[float | None, float | None]:
    """(since, until) for PERIODS[index]; "Today" starts at local midnight."""
    _label, since, until = PERIODS[index]
    midnight = time.mktime((*time.localtime(now)[:3], 0, 0, 0, 0, 0, -1))
    bound = lambda days: None if days is None else midnight - days * DAY  # noqa: E731
    return bound(since), bound(until)


def available_actions(items: Iterable[HistoryItem]) -> set[str]:
    """What the action buttons can do for these selected items."""
    items = list(items)
    actions = set()
    linked = [i for i in items if i.url and i.state is JobState.DONE]
    if linked:
        actions.add("copy")
    if len(linked) == 1:
        actions.add("open")
        if not linked[0].is_album:  # an album is a page: no image to copy or save
            actions.add("more")
    if any(i.state is JobState.FAILED for i in items):
        actions.add("retry")
    # A custom uploader's host gives a DeletionURL (opened in the browser) and no token.
    if any(i.delete_token or i.delete_url for i in linked):
        actions.add("delete")
    if items:
        actions.add("forget")
    return actions


def action_icon(name: str, palette: QPalette) -> QIcon:
    """A line icon whose disabled look is faint (the disabled text colour halfway to the
    background): the style's generated one keeps a light icon bright on a dark background."""
    icon = QIcon(theme.icon(name, palette.color(QPalette.ColorRole.WindowText)))
    disabled = palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText)
    background = palette.color(QPalette.ColorRole.Window)
    faint = theme.icon(name, QColor(*((a + b) // 2 for a, b in zip(
        disabled.getRgb()[:3], background.getRgb()[:3], strict=True))))  # fmt: skip
    for size in faint.availableSizes():
        icon.addPixmap(faint.pixmap(size), QIcon.Mode.Disabled)
    return icon


class HistoryView(QWidget):
    filter_changed = Signal(object)  # HistoryFilter
    copy_as = Signal(list, str)  # keys, LinkFormat value
    open_clicked = Signal(str)
    retry_clicked = Signal(list)
    delete_clicked = Signal(list)
    forget_clicked = Signal(list)
    export_requested = Signal(str, list)  # "csv" or "json", keys ([]: everything listed)
    image_requested = Signal(str, str)  # key, "copy", "save" or "edit": its image, fetched back
    qr_requested = Signal(str)  # key

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model: HistoryModel | None = None
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search by name or link (3 letters or more)")
        self.search.setClearButtonEnabled(True)
        self.search.setAccessibleName("Search history")
        self._search_timer = QTimer(self, singleShot=True, interval=SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self._emit_filter)
        self.search.textChanged.connect(self._search_timer.start)
        self.period = QComboBox()
        self.period.setAccessibleName("Uploaded")
        self.period.addItems([label for label, _s, _u in PERIODS])
        self.period.currentIndexChanged.connect(self._emit_filter)
        self.server = QComboBox()
        self.server.setAccessibleName("Server")
        self.server.addItem("All servers", None)
        self.server.currentIndexChanged.connect(self._emit_filter)
        self.grid_button = self._button("grid", "Show as a grid of thumbnails")
        self.grid_button.setCheckable(True)
        self.grid_button.toggled.connect(self.set_grid)

        self.copy_button = self._button("copy", "Copy link as…")
        copy_menu = QMenu(self.copy_button)
        for fmt in LinkFormat:
            label = "Custom template" if fmt is LinkFormat.TEMPLATE else fmt.label
            action = copy_menu.addAction(label)
            action.triggered.connect(lambda _=False, f=fmt: self._copy(f))
        self.copy_button.setMenu(copy_menu)
        self.copy_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.open_button = self._button("open", "Open in browser")
        self.more_button = self._button("more", "More: copy image, save as, annotate, QR code")
        more = QMenu(self.more_button)
        more.addAction("Copy image", lambda: self._image("copy"))
        more.addAction("Save as…", lambda: self._image("save"))
        more.addAction(EDIT_LABEL, lambda: self._image("edit"))
        more.addAction("QR code of the link", lambda: self.qr_requested.emit(self._one_key()))
        self.more_button.setMenu(more)
        self.more_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.retry_button = self._button("retry", "Retry failed uploads")
        self.delete_button = self._button("trash", "Delete from server")
        self.forget_button = self._button("forget", "Forget (remove from this list)")
        self.export_button = self._button("export", "Export…")
        export_menu = QMenu(self.export_button)
        export_menu.addAction("Export as CSV…").triggered.connect(lambda: self._export("csv"))
        export_menu.addAction("Export as JSON…").triggered.connect(lambda: self._export("json"))
        self.export_button.setMenu(export_menu)
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.open_button.clicked.connect(lambda: self.open_clicked.emit(self.selected()[0].key))
        self.retry_button.clicked.connect(
            lambda: self.retry_clicked.emit(
                [i.key for i in self.selected() if i.state is JobState.FAILED]
            )
        )
        self.delete_button.clicked.connect(
            lambda: self.delete_clicked.emit([i.key for i in self.selected()])
        )
        self.forget_button.clicked.connect(
            lambda: self.forget_clicked.emit([i.key for i in self.selected()])
        )

        self.list = QListView()
        self.list.setObjectName("HistoryList")
        self.list.setFrameShape(QFrame.Shape.NoFrame)
        # Cards (Base) on the window's colour. Not a style sheet: a background there reaches
        # the scroll bar and the palette the cards are painted with (both drew black).
        self.list.viewport().setBackgroundRole(QPalette.ColorRole.Window)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setUniformItemSizes(True)
        # Laid out a batch at a time between events: a long list never stalls the window.
        self.list.setLayoutMode(QListView.LayoutMode.Batched)
        self.list.setBatchSize(400)
        self.list.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.list.setItemDelegate(HistoryDelegate(self.list))
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._context_menu)
        self.list.doubleClicked.connect(lambda index: self._open(index.data(ItemRole)))
        self.empty = QLabel("Nothing uploaded yet.", alignment=Qt.AlignmentFlag.AlignCenter)
        self.empty.setObjectName("Muted")

        filters = QHBoxLayout()
        filters.setSpacing(6)
        filters.addWidget(self.search, 1)
        filters.addWidget(self.period)
        filters.addWidget(self.server)
        filters.addWidget(self.grid_button)
        actions = QHBoxLayout()
        actions.setSpacing(2)
        self.selection_label = QLabel()
        self.selection_label.setObjectName("Muted")
        actions.addWidget(self.selection_label, 1)
        for button in (self.copy_button, self.open_button, self.more_button, self.retry_button,
                       self.delete_button, self.forget_button, self.export_button):  # fmt: skip
            actions.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addLayout(filters)
        layout.addLayout(actions)
        layout.addWidget(self.empty)
        layout.addWidget(self.list, 1)
        self._update_actions()

    def _button(self, icon: str, tooltip: str) -> QToolButton:
        button = QToolButton()
        button.setProperty("icon_name", icon)
        button.setIcon(action_icon(icon, self.palette()))
        button.setIconSize(QSize(18, 18))
        button.setToolTip(tooltip)
        button.setAccessibleName(tooltip)
        button.setAutoRaise(True)
        button.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        return button

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == event.Type.PaletteChange:  # light <-> dark: icons in the new colours
            for button in self.findChildren(QToolButton):
                if name := button.property("icon_name"):
                    button.setIcon(action_icon(name, self.palette()))

    # -- model --------------------------------------------------------------------------------
    def set_model(self, model: HistoryModel) -> None:
        self.model = model
        self.list.setModel(model)
        self.list.selectionModel().selectionChanged.connect(self._update_actions)
        # Not on dataChanged: every loaded thumbnail is one, and the buttons do not depend on them.
        for signal in (model.rowsInserted, model.rowsRemoved, model.modelReset):
            signal.connect(self._update_actions)

    def set_servers(self, servers: list[str]) -> None:
        """The servers the filter offers (the current choice is kept)."""
        chosen = self.server.currentData()
        self.server.blockSignals(True)
        self.server.clear()
        self.server.addItem("All servers", None)
        for server in servers:
            self.server.addItem(server_label(server), server)
            self.server.setItemData(self.server.count() - 1, server, Qt.ItemDataRole.ToolTipRole)
        self.server.setCurrentIndex(max(0, self.server.findData(chosen)))
        self.server.blockSignals(False)

    def current_filter(self, now: float | None = None) -> HistoryFilter:
        since, until = period_bounds(self.period.currentIndex(), now or time.time())
        text = self.search.text().strip()
        # One or two letters cannot use the search index (and match almost everything).
        text = text if len(text) >= TRIGRAM else ""
        return HistoryFilter(text, since, until, self.server.currentData())

    def _emit_filter(self) -> None:
        self._search_timer.stop()
        self.filter_changed.emit(self.current_filter())

    def set_grid(self, grid: bool) -> None:
        self.grid_button.setChecked(grid)
        if grid:
            self.list.setViewMode(QListView.ViewMode.IconMode)
            self.list.setGridSize(TILE + QSize(8, 8))
            self.list.setResizeMode(QListView.ResizeMode.Adjust)
            self.list.setMovement(QListView.Movement.Static)
            self.list.setWrapping(True)
        else:
            self.list.setViewMode(QListView.ViewMode.ListMode)
            self.list.setGridSize(QSize())
            self.list.setWrapping(False)

    # -- selection and actions ----------------------------------------------------------------
    def item_keys(self) -> list[str]:
        return self.model.keys() if self.model else []

    def selected(self) -> list[HistoryItem]:
        rows = sorted(index.row() for index in self.list.selectionModel().selectedIndexes())
        return [self.model.item(row) for row in rows] if self.model else []

    def select(self, keys: Iterable[str]) -> None:
        selection = self.list.selectionModel()
        selection.clearSelection()
        for key in keys:
            row = self.model.listing.row(key) if self.model else None
            if row is not None:
                selection.select(self.model.index(row), QItemSelectionModel.SelectionFlag.Select)

    def _update_actions(self, *_args) -> None:
        selected = self.selected() if self.model and self.list.selectionModel() else []
        actions = available_actions(selected)
        self.copy_button.setEnabled("copy" in actions)
        self.open_button.setEnabled("open" in actions)
        self.more_button.setEnabled("more" in actions)
        self.retry_button.setEnabled("retry" in actions)
        self.delete_button.setEnabled("delete" in actions)
        self.forget_button.setEnabled("forget" in actions)
        has_items = bool(self.model and self.model.rowCount())
        self.export_button.setEnabled(has_items)
        self.selection_label.setText(f"{len(selected)} selected" if len(selected) > 1 else "")
        self.empty.setVisible(not has_items)
        self.list.setVisible(has_items)
        filtered = self.model is not None and self.model.listing.where != HistoryFilter()
        self.empty.setText("Nothing matches." if filtered else "Nothing uploaded yet.")

    def _copy(self, fmt: LinkFormat) -> None:
        keys = [i.key for i in self.selected() if i.url and i.state is JobState.DONE]
        if keys:
            self.copy_as.emit(keys, fmt.value)

    def _open(self, item: HistoryItem | None) -> None:
        if item is not None and item.url and item.state is JobState.DONE:
            self.open_clicked.emit(item.key)

    def _one_key(self) -> str:
        return self.selected()[0].key

    def _image(self, what: str) -> None:
        self.image_requested.emit(self._one_key(), what)

    def _export(self, fmt: str) -> None:
        self.export_requested.emit(fmt, [i.key for i in self.selected()])

    def _context_menu(self, pos: QPoint) -> None:
        if not self.list.indexAt(pos).isValid():
            return
        menu = QMenu(self)
        for button in (self.copy_button, self.open_button, self.more_button, self.retry_button,
                       self.delete_button, self.forget_button, self.export_button):  # fmt: skip
            if button.menu() is not None:
                sub = menu.addMenu(button.icon(), button.toolTip())
                sub.addActions(button.menu().actions())
                sub.setEnabled(button.isEnabled())
            else:
                action = menu.addAction(button.icon(), button.toolTip(), button.click)
                action.setEnabled(button.isEnabled())
        menu.exec(self.list.viewport().mapToGlobal(pos))
