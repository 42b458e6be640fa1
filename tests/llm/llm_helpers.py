"""Test helpers for the LLM tests (imported by conftest and the test modules)."""

from __future__ import annotations

import asyncio

from voiceflow.core.processor import Processor, on
from voiceflow.frames import Frame, UserStartedSpeaking


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
    """Interrupts (bumps the generation both ways) when the caller starts speaking."""

    @on(UserStartedSpeaking)
    async def barge(self, frame: UserStartedSpeaking) -> None:
        await self.push(frame)
        await self.interrupt()
