"""The ``events()`` side of a stream: a bounded buffer between an adapter and its one reader.

Adapters put events from the event loop (after awaiting their decoder thread or reading
their socket); the reader iterates. When the reader falls behind, the oldest interim is
dropped first (a newer interim supersedes it); finals, failures and endpoints are kept up
to ``max_events``, past which the oldest event goes (counted in ``dropped``). ``close``
ends the iteration once what is buffered has been read.

The iterator is a plain object, not an async generator, so a reader that stops early
leaves no generator for the loop to finalise in a task of its own.
"""

from __future__ import annotations

import asyncio
from collections import deque

from voiceflow.services.stt.engine import InterimText, STTEvent


class EventFeed:
    def __init__(self, *, max_interims: int = 32, max_events: int = 1024) -> None:
        self.max_interims = max_interims
        self.max_events = max_events
        self.dropped = 0
        self._items: deque[STTEvent] = deque()
        self._interims = 0
        self._wake = asyncio.Event()
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def put(self, event: STTEvent) -> None:
        if self._closed:
            return
        if isinstance(event, InterimText):
            if self._interims >= self.max_interims:
                self._drop_oldest_interim()
            self._interims += 1
        if len(self._items) >= self.max_events:
            self._forget(self._items.popleft())
        self._items.append(event)
        self._wake.set()

    def drain(self) -> list[STTEvent]:
        """Everything buffered now, without waiting (for an adapter relaying another stream's events)."""
        items = list(self._items)
        self._items.clear()
        self._interims = 0
        return items

    def close(self) -> None:
        self._closed = True
        self._wake.set()

    def _drop_oldest_interim(self) -> None:
        for i, item in enumerate(self._items):
            if isinstance(item, InterimText):
                del self._items[i]
                self._forget(item)
                return

    def _forget(self, item: STTEvent) -> None:
        self.dropped += 1
        if isinstance(item, InterimText):
            self._interims -= 1

    def __aiter__(self) -> EventFeed:
        return self

    async def __anext__(self) -> STTEvent:
        while not self._items:
            if self._closed:
                raise StopAsyncIteration
            self._wake.clear()
            await self._wake.wait()
        item = self._items.popleft()
        if isinstance(item, InterimText):
            self._interims -= 1
        return item
