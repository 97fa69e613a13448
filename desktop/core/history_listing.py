"""What the History tab lists: the uploads matching a filter, newest first, read a page at a time
as the user scrolls and kept current from what changed since, never by reading everything again.

Rows are kept as plain tuples (see `_compact`), an item is made again when it is asked for: a
long listing then costs the cycle collector nothing (a full collection walked every item, a stall
that grew with the rows scrolled past) and shares the strings every row repeats.

Qt-free; `desktop.ui.history_model` is its Qt face.
"""

from __future__ import annotations

import bisect
import dataclasses
import sys
import time

from desktop.core.history import HistoryFilter, HistoryItem, HistoryStore
from desktop.core.jobs import JobState

PAGE = 200

_FIELDS = tuple(f.name for f in dataclasses.fields(HistoryItem))
_KEY, _SERVER, _CREATED, _SEQ = map(_FIELDS.index, ("key", "server", "created_at", "seq"))
_SHARED = {_FIELDS.index(name) for name in ("batch", "mime", "server")}  # the same in many rows

Row = tuple  # an item's fields in `_FIELDS` order: str, number, None (`removed`: a tuple)


def _compact(item: HistoryItem) -> Row:
    """`item` as a tuple of atomic values, which the cycle collector stops tracking: the state
    as its value, `removed` a tuple, the thumbnail left out (a listing never has it)."""
    values = [getattr(item, name) for name in _FIELDS]
    for n in _SHARED:
        values[n] = sys.intern(values[n])
    values[_FIELDS.index("state")] = item.state.value
    values[_FIELDS.index("removed")] = tuple(item.removed)
    values[_FIELDS.index("thumbnail")] = None
    return tuple(values)


def _expand(row: Row) -> HistoryItem:
    item = HistoryItem(*row)
    item.state = JobState(item.state)
    item.removed = list(item.removed)
    return item


def _by_time(row: Row) -> tuple[float, int]:
    """Ascending along a listing (newest first)."""
    return -row[_CREATED], -row[_SEQ]


def _by_record(row: Row) -> tuple[float, int]:
    """Ascending along an indexed search (newest recorded first: see HistoryFilter.indexed)."""
    return 0.0, -row[_SEQ]


class HistoryListing:
    def __init__(self, store: HistoryStore, page: int = PAGE) -> None:
        self.store = store
        self.page = page
        self.where = HistoryFilter()
        self._items: list[Row] = []
        self.exhausted = False
        self._rows: dict[str, int] = {}
        self._since = time.time()
        self._seen: set[tuple[str, float]] = set()  # changes at `_since` already handed out

    def reset(self, where: HistoryFilter) -> None:
        """List what matches `where`, from the top (nothing is read until `more`)."""
        self.where = where
        self._items = []
        self._rows = {}
        self.exhausted = False
        self._since = time.time()  # before the first read: nothing written after it is missed
        self._seen = set()

    def more(self) -> list[HistoryItem]:
        """The next page, appended; [] once everything is listed."""
        if self.exhausted:
            return []
        after = (self._items[-1][_CREATED], self._items[-1][_SEQ]) if self._items else None
        page = self.store.page(self.where, after, self.page)
        self.exhausted = len(page) < self.page
        start = len(self._items)
        self._items += map(_compact, page)
        self._rows.update((item.key, start + n) for n, item in enumerate(page))
        return page

    def __len__(self) -> int:
        return len(self._items)

    def item(self, row: int) -> HistoryItem:
        return _expand(self._items[row])

    def keys(self) -> list[str]:
        return [row[_KEY] for row in self._items]

    def servers(self) -> list[str]:
        return sorted({row[_SERVER] for row in self._items})

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
        self._items[row] = _compact(item)

    def place(self, item: HistoryItem) -> int | None:
        """Where a new upload goes, or None when it lies below what is listed so far (paging
        will reach it)."""
        order = _by_record if self.where.indexed else _by_time
        row = bisect.bisect_left(self._items, order(_compact(item)), key=order)
        if row == len(self._items) and not self.exhausted:
            return None
        return row

    def insert(self, row: int, item: HistoryItem) -> None:
        self._items.insert(row, _compact(item))
        self._reindex(row)

    def remove(self, row: int) -> None:
        del self._rows[self._items.pop(row)[_KEY]]
        self._reindex(row)

    def _reindex(self, start: int) -> None:
        self._rows.update((r[_KEY], n) for n, r in enumerate(self._items[start:], start))
