"""Structural nodes: explicit fan-in (Merge), predicate routing (Router) and a Collector sink."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import TypeVar

from voiceflow.core.processor import Processor
from voiceflow.frames.base import Frame, Lane, Origin
from voiceflow.frames.control import End, Start

Predicate = Callable[[Frame], bool]
F = TypeVar("F", bound=Frame)


class Merge(Processor):
    """Fan-in: one ordered queue fed by several inputs; forwards Start once and End after all inputs end."""

    def __init__(self, *, name: str | None = None, queue_size: int | None = None) -> None:
        super().__init__(name=name, queue_size=queue_size)
        self._started = False
        self._ended = 0

    async def _handle_start(self, frame: Start) -> None:
        if not self._started:
            self._started = True
            await self.push(frame)

    async def _handle_end(self, frame: End) -> None:
        self._ended += 1
        if self._ended >= max(1, len(self.upstream)):
            await self.on_end(frame)
            await self.push(frame)


class Router(Processor):
    """Sends each content frame to the first branch whose predicate accepts it.

    System frames (Start, End, metrics...) go to every branch so each branch starts
    and drains. Branch targets are wired by ``Graph.route``.
    """

    def __init__(
        self,
        routes: Sequence[tuple[str, Predicate]],
        *,
        default: str | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        self.routes = list(routes)
        self.default = default
        self.branches: dict[str, Processor] = {}

    def branch_for(self, frame: Frame) -> Processor | None:
        for label, pred in self.routes:
            if pred(frame):
                return self.branches[label]
        return self.branches.get(self.default) if self.default else None

    async def push(self, frame: Frame) -> None:
        if frame.origin is Origin.SYSTEM or frame.lane is Lane.URGENT:
            await super().push(frame)
            return
        target = self.branch_for(frame)
        if target is None:
            self.run.unrouted += 1
            return
        if self.run.observed:
            self.run.notify(self, frame, False)
        if not target.queue.offer(frame):
            await target.queue.put(frame)


class Collector(Processor):
    """A sink that keeps what reaches it (tests, examples, benchmarks)."""

    def __init__(self, *, name: str | None = None, keep: int | None = None) -> None:
        super().__init__(name=name)
        self.frames: list[Frame] = []
        self.keep = keep
        self._arrived = asyncio.Event()

    def of(self, ftype: type[F]) -> list[F]:
        return [f for f in self.frames if isinstance(f, ftype)]

    async def push(self, frame: Frame) -> None:
        if self.keep is None or len(self.frames) < self.keep:
            self.frames.append(frame)
        self._arrived.set()
        await super().push(frame)
