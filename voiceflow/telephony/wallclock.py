"""Wall time for telephony: calling hours, call records and campaign schedules are about the
time of day, so their clock's ``now()`` is Unix seconds (``WallClock`` in production; a
``VirtualClock(start=<unix time>)`` in tests, which then runs a whole day in milliseconds)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import TypeVar

from voiceflow.core.clock import Clock

__all__ = ["WallClock", "utc"]

T = TypeVar("T")


class WallClock:
    """``time.time()`` and the event loop's timers."""

    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    @asynccontextmanager
    async def timeout(self, seconds: float | None) -> AsyncIterator[None]:
        async with asyncio.timeout(seconds):
            yield

    async def wait_for(self, aw: Awaitable[T], seconds: float | None) -> T:
        return await asyncio.wait_for(aw, seconds)


def utc(clock: Clock) -> datetime:
    """The clock's now as an aware UTC datetime."""
    return datetime.fromtimestamp(clock.now(), UTC)
