"""A bounded mapping that forgets the least recently used entry first."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")
MISSING = object()


def _one(_value: object) -> int:
    return 1


class LruCache(Generic[K, V]):
    """Up to `capacity` entries, or, with `weigh` (e.g. `len`), entries weighing that much in
    all: one heavier than the whole capacity is not kept at all."""

    def __init__(self, capacity: int, weigh: Callable[[V], int] = _one) -> None:
        self.capacity = capacity
        self._weigh = weigh
        self._weight = 0
        self._entries: OrderedDict[K, V] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: K) -> bool:
        return key in self._entries

    def get(self, key: K, default: object = MISSING) -> V | object:
        """The value (now the most recently used), or `default` when absent."""
        if key not in self._entries:
            return default
        self._entries.move_to_end(key)
        return self._entries[key]

    def put(self, key: K, value: V) -> None:
        self.discard(key)
        self._entries[key] = value
        self._weight += self._weigh(value)
        while self._weight > self.capacity:
            self._weight -= self._weigh(self._entries.popitem(last=False)[1])

    def discard(self, key: K) -> None:
        if key in self._entries:
            self._weight -= self._weigh(self._entries.pop(key))
