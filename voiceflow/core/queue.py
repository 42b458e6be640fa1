"""A processor's bounded input queue: one ordered lane, a declared overflow policy, a depth gauge.

Plain ``deque`` plus one parked waiter future, not ``asyncio.Queue``: a push is an
append and (when the consumer sleeps) one ``set_result``; the consumer drains
without re-awaiting while items are there.
"""

from __future__ import annotations

import asyncio
import enum
from collections import deque

from voiceflow.frames.base import Frame, Origin


class Overflow(enum.Enum):
    """What a full queue does with one more downstream frame."""

    BLOCK = "block"  # the pusher waits for room: lossless backpressure (default)
    DROP_OLDEST = "drop_oldest"  # discard the oldest queued data frame (bot or user audio)
    DROP_NEWEST = "drop_newest"  # discard the incoming data frame


Item = tuple[Frame, bool]  # (frame, travelling upstream)


class FrameQueue:
    __slots__ = (
        "_getter",
        "_putters",
        "dropped_overflow",
        "dropped_stale",
        "high_water",
        "items",
        "maxsize",
        "overflow",
    )

    def __init__(self, maxsize: int = 256, overflow: Overflow = Overflow.BLOCK) -> None:
        if maxsize < 1:
            raise ValueError(f"queue size must be at least 1, got {maxsize}")
        self.items: deque[Item] = deque()
        self.maxsize = maxsize
        self.overflow = overflow
        self.high_water = 0
        self.dropped_overflow = 0
        self.dropped_stale = 0
        self._getter: asyncio.Future[None] | None = None
        self._putters: deque[asyncio.Future[None]] = deque()

    @property
    def depth(self) -> int:
        """The gauge: frames waiting now."""
        return len(self.items)

    def _wake_getter(self) -> None:
        g = self._getter
        if g is not None and not g.done():
            g.set_result(None)

    def offer(self, frame: Frame, upstream: bool = False) -> bool:
        """Enqueue without waiting. False only when BLOCK policy is full (caller must ``put``)."""
        items = self.items
        if len(items) >= self.maxsize and not upstream and frame.origin is not Origin.SYSTEM:
            if self.overflow is Overflow.BLOCK:
                return False
            if self.overflow is Overflow.DROP_NEWEST:
                self.dropped_overflow += 1
                return True
            if not self._drop_oldest_data():
                self.dropped_overflow += 1
                return True
        # Upstream feedback and system frames bypass the bound: blocking them could
        # deadlock two processors pushing at each other, and they are few.
        items.append((frame, upstream))
        n = len(items)
        if n > self.high_water:
            self.high_water = n
        self._wake_getter()
        return True

    def _drop_oldest_data(self) -> bool:
        for i, (f, up) in enumerate(self.items):
            if not up and f.origin is not Origin.SYSTEM:
                del self.items[i]
                self.dropped_overflow += 1
                return True
        return False

    async def put(self, frame: Frame, upstream: bool = False) -> None:
        while not self.offer(frame, upstream):
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._putters.append(fut)
            try:
                await fut
            finally:
                if not fut.done():
                    fut.cancel()
                try:
                    self._putters.remove(fut)
                except ValueError:
                    pass

    def _wake_putters(self) -> None:
        room = self.maxsize - len(self.items)
        for fut in self._putters:
            if room <= 0:
                break
            if not fut.done():
                fut.set_result(None)
                room -= 1

    def pop(self) -> Item:
        item = self.items.popleft()
        if self._putters:
            self._wake_putters()
        return item

    async def wait(self) -> None:
        """Park until something is queued."""
        while not self.items:
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._getter = fut
            try:
                await fut
            finally:
                self._getter = None

    def purge(self, keep: object) -> int:
        """Remove queued items for which ``keep(frame, upstream)`` is false; returns how many."""
        before = len(self.items)
        kept = [it for it in self.items if keep(*it)]  # type: ignore[operator]
        removed = before - len(kept)
        if removed:
            self.items.clear()
            self.items.extend(kept)
            self._wake_putters()
        return removed

    def clear(self) -> int:
        n = len(self.items)
        self.items.clear()
        self._wake_putters()
        return n
