"""Test helpers for the LLM tests (imported by conftest and the test modules)."""

from __future__ import annotations

import asyncio

from voiceflow.core.processor import Processor, on
from voiceflow.frames import Frame, UserStartedSpeaking
from voiceflow.graphs import GraphRun


class Outputs:
    """A GraphRun ``on_output`` hook that lets a test await frames produced after real socket I/O."""

    def __init__(self) -> None:
        self.frames: list[Frame] = []
        self._changed = asyncio.Event()

    def __call__(self, sink: Processor, frame: Frame) -> None:
        self.frames.append(frame)
        self._changed.set()

    def count(self, ftype: type[Frame]) -> int:
        return sum(isinstance(f, ftype) for f in self.frames)

    async def wait_for(self, ftype: type[Frame], count: int = 1, limit: float = 10.0) -> None:
        """Until ``count`` frames of ``ftype`` reached the sink (``limit`` is a safety bound only)."""
        async with asyncio.timeout(limit):
            while self.count(ftype) < count:
                self._changed.clear()
                await self._changed.wait()


class BargeIn(Processor):
    """Interrupts (bumps the generation both ways) when the caller starts speaking, as the
    endpointer does before anything of the new turn is heard (``barged`` waits for it)."""

    def __init__(self, *, name: str | None = None) -> None:
        super().__init__(name=name)
        self.interrupted = asyncio.Event()

    @on(UserStartedSpeaking)
    async def barge(self, frame: UserStartedSpeaking) -> None:
        await self.interrupt()
        await self.push(frame)
        self.interrupted.set()


async def barged(run: GraphRun, name: str = "barge") -> None:
    """Until the ``BargeIn`` named ``name`` has interrupted for the caller's new turn (what the
    caller says next is heard after it, so it belongs to the new generation)."""
    node = run.node(name)
    assert isinstance(node, BargeIn)
    await asyncio.wait_for(node.interrupted.wait(), 10)
    node.interrupted.clear()
