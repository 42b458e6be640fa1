"""Observers watch every push from their own queue and task, so a slow one never stalls the flow."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass
from typing import Any, Protocol

from voiceflow.frames.base import Frame

log = logging.getLogger("voiceflow.observers")


@dataclass(frozen=True, slots=True)
class PushEvent:
    source: str
    frame: Frame
    upstream: bool
    at: float


class Observer(Protocol):
    """Sees every push; an observer with a ``frame_types`` tuple attribute sees only those types.

    Declaring the types matters on hot graphs: a push of another type then costs one
    ``isinstance`` check instead of an event, a queue slot and a wake-up.
    """

    async def on_push(self, event: PushEvent) -> None: ...


class ObserverFeed:
    """A bounded feed for one observer: the oldest events are dropped (and counted) when it lags."""

    def __init__(self, observer: Observer, maxsize: int) -> None:
        self.observer = observer
        self.maxsize = maxsize
        self.events: deque[PushEvent] = deque()
        self.dropped = 0
        self.failures = 0
        kinds = getattr(observer, "frame_types", None)
        #: the frame types the observer asked for (None: all)
        self.kinds: tuple[type[Frame], ...] | None = tuple(kinds) if kinds is not None else None
        self._wake: asyncio.Event = asyncio.Event()

    def offer(self, src: Any, frame: Frame, upstream: bool, at: float) -> None:
        if len(self.events) >= self.maxsize:
            self.events.popleft()
            self.dropped += 1
        self.events.append(PushEvent(src.name, frame, upstream, at))
        self._wake.set()

    async def run(self) -> None:
        while True:
            while self.events:
                try:
                    await self.observer.on_push(self.events.popleft())
                except Exception:  # a broken observer must not take the call down
                    self.failures += 1
                    if self.failures == 1:
                        log.exception("observer %s failed (further failures counted only)", self.observer)
            self._wake.clear()
            await self._wake.wait()


class FrameLog:
    """An observer that records every push (useful in tests and the example pipeline)."""

    def __init__(self) -> None:
        self.events: list[PushEvent] = []

    async def on_push(self, event: PushEvent) -> None:
        self.events.append(event)
