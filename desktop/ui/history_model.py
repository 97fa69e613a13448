"""History as a Qt list model over `HistoryListing`: rows are fetched a page at a time as the
view scrolls, changes are applied row by row, and thumbnails are read and decoded on a worker
thread only for rows the view paints, into a bounded cache."""

from __future__ import annotations

import collections
import logging
import threading

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QImage, QPixmap

from desktop.core.history import HistoryFilter, HistoryItem, HistoryStore
from desktop.core.history_listing import HistoryListing
from desktop.core.lru import MISSING, LruCache
from desktop.core.printable import printable

log = logging.getLogger(__name__)

ItemRole = Qt.ItemDataRole.UserRole + 1  # the HistoryItem
ReachableRole = Qt.ItemDataRole.UserRole + 2  # its server answers: True, False, None (unknown)
TILE_SIDE = 128  # decoded at most this big (grid tiles); list rows scale it down
CACHED_THUMBNAILS = 600  # a few screens of grid tiles
WANTED = 96  # requests kept while scrolling fast: older ones are dropped, newer ones served
LINGER_S = 2.0  # the worker waits this long for more requests before it ends


class ThumbnailLoader(QObject):
    """Reads and decodes thumbnails on one worker thread, newest request first. The thread runs
    only while there is work, so nothing is left behind when the window goes; it lingers a
    moment for more, so scrolling does not start one per screen (starting a thread waits until
    it runs: a stall on a busy machine)."""

    loaded = Signal(str, QImage)  # key, image (null when the upload has no thumbnail)

    def __init__(self, store: HistoryStore, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self._wanted: collections.deque[str] = collections.deque(maxlen=WANTED)
        self._more = threading.Condition()
        self._running = False

    def request(self, key: str) -> None:
        with self._more:
            if key in self._wanted:
                return
            self._wanted.append(key)
            self._more.notify()
            if self._running:
                return
            self._running = True
        threading.Thread(target=self._work, name="picdrop-history-thumbnails", daemon=True).start()

    def _work(self) -> None:
        while True:
            with self._more:
                if not self._more.wait_for(lambda: self._wanted, LINGER_S):
                    self._running = False
                    return
                key = self._wanted.pop()
            try:
                image = QImage.fromData(self.store.thumbnail(key) or b"")
            except Exception:  # only this row's picture is missing
                log.exception("history thumbnail of %s", key)
                image = QImage()
            if not image.isNull() and max(image.width(), image.height()) > TILE_SIDE:
                image = image.scaled(
                    TILE_SIDE,
                    TILE_SIDE,
                    Qt.AspectRatioMode.KeepAspectRatioByExpanding,
                    Qt.TransformationMode.SmoothTransformation,
                )
            self.loaded.emit(key, image)


class HistoryModel(QAbstractListModel):
    def __init__(self, store: HistoryStore, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.listing = HistoryListing(store)
        self.started = False
        self.reachable: dict[str, bool] = {}
        self._thumbnails: LruCache[str, QPixmap | None] = LruCache(CACHED_THUMBNAILS)
        self._loading: set[str] = set()
        self.loader = ThumbnailLoader(store, self)
        self.loader.loaded.connect(self._on_thumbnail)

    # -- what the view asks ---------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.listing)

    def canFetchMore(self, parent: QModelIndex | QPersistentModelIndex) -> bool:
        return self.started and not parent.isValid() and not self.listing.exhausted

    def fetchMore(self, parent: QModelIndex | QPersistentModelIndex) -> None:
        if not self.canFetchMore(parent):
            return
        start = len(self.listing)
        page = self.listing.more()
        if page:
            self.beginInsertRows(QModelIndex(), start, start + len(page) - 1)
            self.endInsertRows()

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> object:
        if not index.isValid() or index.row() >= len(self.listing):
            return None
        item = self.listing.item(index.row())
        if role == ItemRole:
            return item
        if role == Qt.ItemDataRole.DisplayRole:
            return item.name
        if role == Qt.ItemDataRole.ToolTipRole:  # the whole of what a row may cut short
            return "\n".join(printable(t) for t in (item.name, item.error or item.url or "") if t)
        if role == Qt.ItemDataRole.DecorationRole:
            return self._thumbnail(item.key)
        if role == ReachableRole:
            return self.reachable.get(item.server)
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    # -- what the window tells it -------------------------------------------------------------
    def start(self) -> None:
        """First shown: from now on rows are read (nothing is read before the tab is seen)."""
        if not self.started:
            self.started = True
            self.fetchMore(QModelIndex())

    def set_filter(self, where: HistoryFilter) -> None:
        if where == self.listing.where and self.started:
            return
        self.beginResetModel()
        self.listing.reset(where)
        self.endResetModel()
        if self.started:
            self.fetchMore(QModelIndex())

    def refresh(self) -> None:
        """Apply what was written since the last look: changed rows in place, new ones where
        they belong."""
        if not self.started:
            return
        for item in self.listing.changed():
            self._thumbnails.discard(item.key)  # its picture may be new too
            row = self.listing.row(item.key)
            if row is not None:
                self.listing.replace(row, item)
                index = self.index(row)
                self.dataChanged.emit(index, index)
                continue
            row = self.listing.place(item)
            if row is not None:
                self.beginInsertRows(QModelIndex(), row, row)
                self.listing.insert(row, item)
                self.endInsertRows()

    def remove(self, keys: list[str]) -> None:
        for key in keys:
            row = self.listing.row(key)
            if row is not None:
                self.beginRemoveRows(QModelIndex(), row, row)
                self.listing.remove(row)
                self.endRemoveRows()
            self._thumbnails.discard(key)

    def set_reachable(self, server: str, ok: bool) -> None:
        if self.reachable.get(server) is ok:
            return
        self.reachable[server] = ok
        if len(self.listing):
            self.dataChanged.emit(self.index(0), self.index(len(self.listing) - 1))

    def item(self, row: int) -> HistoryItem:
        return self.listing.item(row)

    def keys(self) -> list[str]:
        return self.listing.keys()

    def servers(self) -> list[str]:
        return self.listing.servers()

    # -- thumbnails ---------------------------------------------------------------------------
    def _thumbnail(self, key: str) -> QPixmap | None:
        cached = self._thumbnails.get(key)
        if cached is not MISSING:
            return cached  # type: ignore[return-value]
        if key not in self._loading:
            self._loading.add(key)
            self.loader.request(key)
        return None

    def _on_thumbnail(self, key: str, image: QImage) -> None:
        self._loading.discard(key)
        self._thumbnails.put(key, None if image.isNull() else QPixmap.fromImage(image))
        row = self.listing.row(key)
        if row is not None:
            index = self.index(row)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])
