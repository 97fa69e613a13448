"""A byte-weighted semaphore: bounds the memory that uploads being processed hold at once.

Many small uploads run side by side; big ones take turns. An upload larger than the whole budget
still runs, alone, so no upload waits forever.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class ByteBudget:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.used = 0
        self._changed = asyncio.Condition()

    @contextlib.asynccontextmanager
    async def hold(self, amount: int) -> AsyncIterator[None]:
        async with self._changed:
            await self._changed.wait_for(
                lambda: self.used == 0 or self.used + amount <= self.capacity
            )
            self.used += amount
        try:
            yield
        finally:
            async with self._changed:
                self.used -= amount
                self._changed.notify_all()
