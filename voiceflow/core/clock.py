"""Clocks: one per run. Monotonic in production, virtual in tests.

Everything that waits on time inside a graph (endpointing windows, pacing,
terminal timeouts) goes through the run's clock, so a test drives time with
``VirtualClock.advance`` and never sleeps for real.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import AsyncIterator, Awaitable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol, TypeVar

T = TypeVar("T")


class Clock(Protocol):
    def now(self) -> float:
        """Seconds on a monotonic scale (origin unspecified)."""
        ...

    async def sleep(self, seconds: float) -> None: ...

    def timeout(self, seconds: float | None) -> AbstractAsyncContextManager[None]:
        """Async context manager raising TimeoutError when ``seconds`` elapse on this clock."""
        ...

    async def wait_for(self, aw: Awaitable[T], seconds: float | None) -> T: ...


class MonotonicClock:
    """The production clock: ``time.monotonic`` and the event loop's timers."""

    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    @asynccontextmanager
    async def timeout(self, seconds: float | None) -> AsyncIterator[None]:
        async with asyncio.timeout(seconds):
            yield

    async def wait_for(self, aw: Awaitable[T], seconds: float | None) -> T:
        return await asyncio.wait_for(aw, seconds)


class VirtualClock:
    """Time that moves only when a test says so; sleepers wake in deadline order."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._seq = itertools.count()
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []

    def now(self) -> float:
        return self._now

    @property
    def pending(self) -> int:
        """Number of live sleepers (timeouts included)."""
        return sum(1 for _, _, f in self._sleepers if not f.done())

    def next_deadline(self) -> float | None:
        live = [d for d, _, f in self._sleepers if not f.done()]
        return min(live) if live else None

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._seq), fut))
        await fut

    @asynccontextmanager
    async def timeout(self, seconds: float | None) -> AsyncIterator[None]:
        if seconds is None:
            yield
            return
        task = asyncio.current_task()
        assert task is not None
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        expired = False

        def fire(_: asyncio.Future[None]) -> None:
            nonlocal expired
            if not fut.cancelled():
                expired = True
                task.cancel()

        fut.add_done_callback(fire)
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._seq), fut))
        try:
            yield
        except asyncio.CancelledError:
            if expired and task.uncancel() == 0:
                raise TimeoutError(f"timed out after {seconds}s of virtual time") from None
            raise
        finally:
            fut.cancel()

    async def wait_for(self, aw: Awaitable[T], seconds: float | None) -> T:
        async with self.timeout(seconds):
            return await aw

    async def advance(self, seconds: float) -> None:
        """Move time forward, waking each sleeper at its deadline, and let woken work run."""
        target = self._now + seconds
        await settle()
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, fut = heapq.heappop(self._sleepers)
            if fut.done():
                continue
            self._now = max(self._now, deadline)
            fut.set_result(None)
            await settle()
        self._now = target
        await settle()

    async def run_until_idle(self, limit: float = 3600.0) -> None:
        """Jump from deadline to deadline until nobody sleeps (or ``limit`` seconds pass)."""
        end = self._now + limit
        await settle()
        while (nxt := self.next_deadline()) is not None and nxt <= end:
            await self.advance(nxt - self._now)


async def settle(max_rounds: int = 10_000) -> None:
    """Yield to the event loop until no callback is ready to run.

    Reads the loop's ready queue (a CPython asyncio detail) so that a virtual
    clock step lets every woken task finish its reaction before time moves on.
    """
    loop = asyncio.get_running_loop()
    ready = getattr(loop, "_ready", None)
    for _ in range(max_rounds):
        await asyncio.sleep(0)
        if ready is not None and not ready:
            # one more round: a task finishing may schedule done-callbacks
            await asyncio.sleep(0)
            if not ready:
                return
    if ready is None:
        return
