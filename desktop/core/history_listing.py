"""What the History tab lists: the uploads matching a filter, newest first, read a page at a time
as the user scrolls and kept current from what changed since, never by reading everything again.

Qt-free; `desktop.ui.history_model` is its Qt face.
"""

from __future__ import annotations

import bisect
import time

from desktop.core.history import HistoryFilter, HistoryItem, HistoryStore

PAGE = 200


def _by_time(item: HistoryItem) -> tuple[float, int]:
    """Ascending along a listing (newest first)."""
    return -item.created_at, -item.seq


def _by_record(item: HistoryItem) -> tuple[float, int]:
    """Ascending along an indexed search (newest recorded first: see HistoryFilter.indexed)."""
    return 0.0, -item.seq


class HistoryListing:
    def __init__(self, store: HistoryStore, page: int = PAGE) -> None:
        self.store = store
        self.page = page
        self.where = HistoryFilter()
        self.items: list[HistoryItem] = []
        self.exhausted = False
        self._rows: dict[str, int] = {}
        self._since = time.time()
        self._seen: set[tuple[str, float]] = set()  # changes at `_since` already handed out

    def reset(self, where: HistoryFilter) -> None:
        """List what matches `where`, from the top (nothing is read until `more`)."""
        self.where = where
        self.items = []
        self._rows = {}
        self.exhausted = False
        self._since = time.time()  # before the first read: nothing written after it is missed
        self._seen = set()

    def more(self) -> list[HistoryItem]:
        """The next page, appended; [] once everything is listed."""
        if self.exhausted:
            return []
        after = self.items[-1].cursor if self.items else None
        page = self.store.page(self.where, after, self.page)
        self.exhausted = len(page) < self.page
        start = len(self.items)
        self.items += page
        self._rows.update((item.key, start + n) for n, item in enumerate(page))
        return page

    def row(self, key: str) -> int | None:
        return self._rows.get(key)

    def changed(self) -> list[HistoryItem]:
        """Matching uploads written since the last call (or the reset)."""
        changed = [
            item
            for item in self.store.changed_since(self._since, self.where)
            if (item.key, item.updated_at) not in self._seen
        ]
        if changed:
            self._since = max(item.updated_at for item in changed)
            self._seen = {(i.key, i.updated_at) for i in changed if i.updated_at == self._since}
        return changed

    def replace(self, row: int, item: HistoryItem) -> None:
        self.items[row] = item

    def place(self, item: HistoryItem) -> int | None:
        """Where a new upload goes, or None when it lies below what is listed so far (paging
        will reach it)."""
        order = _by_record if self.where.indexed else _by_time
        row = bisect.bisect_left(self.items, order(item), key=order)
        if row == len(self.items) and not self.exhausted:
            return None
        return row

    def insert(self, row: int, item: HistoryItem) -> None:
        self.items.insert(row, item)
        self._reindex(row)

    def remove(self, row: int) -> None:
        del self._rows[self.items.pop(row).key]
        self._reindex(row)

    def _reindex(self, start: int) -> None:
        self._rows.update((item.key, n) for n, item in enumerate(self.items[start:], start))
