"""A byte-weighted semaphore: bounds the memory that image work holds at once.

Many small jobs run side by side; big ones take turns. A job larger than the whole budget is
refused before it gets here (imagework.py), so no job waits forever.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import anyio


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
            with anyio.CancelScope(shield=True):  # given back even when the holder is cancelled
                async with self._changed:
                    self.used -= amount
                    self._changed.notify_all()
