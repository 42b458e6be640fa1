"""Hanging up after the goodbye has been heard.

The dialogue (or the LLM) ends a call with the ``end_call`` tool. The call must
not drop while the farewell is still playing, so this processor, placed just
before the output transport, waits for the transport's ``BotStoppedSpeaking``
(what the caller actually heard) and then sends ``End``: the run drains and the
transport closes the line. If playout is never reported, ``max_wait`` bounds it.

A farewell the caller talked over is not a goodbye heard: after a ``clear`` cut it
(``PlayoutReport(mark="clear")``) the line stays up until an utterance plays to its end
(the farewell resumed after a backchannel); and if the caller turns out to be going on
with the turn the farewell answered (``UserStartedSpeaking(continues=True)``: the
dialogue undoes that turn) the hang-up is called off. So it is when the dialogue reopens
after the farewell (the caller had more to say: an ``end_call`` result of status
``cancelled``).

``end_call`` waits until its turn can no longer be continued (``Speculation.settle``), so a
short farewell may have played before its result arrives: then the line is hung up at once.
"""

from __future__ import annotations

import asyncio

from voiceflow.core.processor import Processor, on
from voiceflow.frames import (
    BotStartedSpeaking,
    BotStoppedSpeaking,
    End,
    PlayoutReport,
    TextToSpeak,
    ToolResult,
    UserStartedSpeaking,
)


class HangUpAfterGoodbye(Processor):
    produces = (End,)

    def __init__(self, *, name: str = "hangup", max_wait: float = 20.0) -> None:
        super().__init__(name=name)
        self.max_wait = max_wait
        self.pending = False
        self.hung_up = False
        #: the farewell was cut by a clear and has not played to an end since
        self.cut = False
        self._timer: asyncio.Task[None] | None = None
        #: the agent is speaking, or has text on its way that has not started playing
        self._speaking = self._unplayed = False

    @on(ToolResult)
    async def result(self, frame: ToolResult) -> None:
        await self.push(frame)
        if frame.tool != "end_call":
            return
        if frame.status == "done" and not self.pending:
            self.pending, self.cut = True, False
            if not (self._speaking or self._unplayed):  # the farewell has already played
                await self._hang_up("goodbye played")
                return
            self._timer = self.create_task(self._deadline(), turn=False)
        elif frame.status == "cancelled":
            self._call_off()  # the dialogue reopened: the caller had more to say

    @on(UserStartedSpeaking)
    async def turn_started(self, frame: UserStartedSpeaking) -> None:
        await self.push(frame)
        if frame.continues:
            self._call_off()  # the caller was not done: the turn the goodbye answered is undone

    def _call_off(self) -> None:
        if not self.pending or self.hung_up:
            return
        self.pending = False
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()

    @on(PlayoutReport, upstream=True)
    async def report(self, frame: PlayoutReport) -> None:
        await self.push_up(frame)
        if self.pending:
            if frame.mark == "clear" and not frame.finished:
                self.cut = True
            elif frame.finished:
                self.cut = False

    @on(TextToSpeak)
    async def say(self, frame: TextToSpeak) -> None:
        self._unplayed = True
        await self.push(frame)

    @on(BotStartedSpeaking, upstream=True)
    async def playing(self, frame: BotStartedSpeaking) -> None:
        self._speaking, self._unplayed = True, False
        await self.push_up(frame)

    @on(BotStoppedSpeaking, upstream=True)
    async def played(self, frame: BotStoppedSpeaking) -> None:
        self._speaking = self._unplayed = False
        await self.push_up(frame)
        if self.pending and not self.cut:
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
