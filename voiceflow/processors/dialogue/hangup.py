"""Hanging up after the goodbye has been heard.

The dialogue (or the LLM) ends a call with the ``end_call`` tool. The call must
not drop while the farewell is still playing, so this processor, placed just
before the output transport, waits for the transport's ``BotStoppedSpeaking``
(what the caller actually heard) and then sends ``End``: the run drains and the
transport closes the line. If playout is never reported, ``max_wait`` bounds it.
"""

from __future__ import annotations

import asyncio

from voiceflow.core.processor import Processor, on
from voiceflow.frames import BotStoppedSpeaking, End, ToolResult


class HangUpAfterGoodbye(Processor):
    produces = (End,)

    def __init__(self, *, name: str = "hangup", max_wait: float = 20.0) -> None:
        super().__init__(name=name)
        self.max_wait = max_wait
        self.pending = False
        self.hung_up = False
        self._timer: asyncio.Task[None] | None = None

    @on(ToolResult)
    async def result(self, frame: ToolResult) -> None:
        await self.push(frame)
        if frame.tool == "end_call" and frame.status == "done" and not self.pending:
            self.pending = True
            self._timer = self.create_task(self._deadline(), turn=False)

    @on(BotStoppedSpeaking, upstream=True)
    async def played(self, frame: BotStoppedSpeaking) -> None:
        await self.push_up(frame)
        if self.pending:
            await self._hang_up("goodbye played")

    async def _deadline(self) -> None:
        await self.run.clock.sleep(self.max_wait)
        await self._hang_up(f"goodbye not reported played within {self.max_wait:.0f} s")

    async def _hang_up(self, reason: str) -> None:
        if self.hung_up:
            return
        self.hung_up = True
        timer, self._timer = self._timer, None
        if timer is not None and timer is not asyncio.current_task():
            timer.cancel()
        await self.push(End(reason=f"agent hung up: {reason}"))
