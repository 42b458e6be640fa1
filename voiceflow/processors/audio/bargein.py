"""Barge-in: the caller talking over the agent interrupts it.

``BargeIn`` sits right after the VAD (before the ``Endpointer``, which swallows
the VAD's intermediate events). It learns whether the agent is audible from
``BotStartedSpeaking`` / ``BotStoppedSpeaking``, which the output transport
sends *upstream* when playout starts and stops. When the caller starts speaking
while the agent is audible and keeps speaking for ``min_speech_secs`` (timed on
the run clock from the VAD's onset report, so a cough that the VAD closes
sooner does not count), it calls ``interrupt()`` exactly once for that onset:
the generation moves on and the agent's stale output is dropped everywhere.
"""

from __future__ import annotations

import asyncio

from voiceflow.core.processor import Processor, on
from voiceflow.frames.speech import (
    BotStartedSpeaking,
    BotStoppedSpeaking,
    VoiceStarted,
    VoiceStopped,
)

__all__ = ["BargeIn"]


class BargeIn(Processor):
    """Interrupts the agent when the caller speaks over it for ``min_speech_secs``."""

    def __init__(self, *, name: str | None = None, min_speech_secs: float = 0.3) -> None:
        super().__init__(name=name)
        if min_speech_secs < 0:
            raise ValueError(f"min_speech_secs must be >= 0, got {min_speech_secs}")
        self.min_speech_secs = min_speech_secs
        self.bot_speaking = False
        self.user_speaking = False
        self.interruptions = 0
        self._pending: asyncio.Task[None] | None = None

    @on(BotStartedSpeaking, upstream=True)
    async def bot_started(self, frame: BotStartedSpeaking) -> None:
        self.bot_speaking = True
        await self.push_up(frame)

    @on(BotStoppedSpeaking, upstream=True)
    async def bot_stopped(self, frame: BotStoppedSpeaking) -> None:
        self.bot_speaking = False
        self._cancel()
        await self.push_up(frame)

    @on(VoiceStarted)
    async def user_started(self, frame: VoiceStarted) -> None:
        self.user_speaking = True
        await self.push(frame)
        if self.bot_speaking and self._pending is None:
            if self.min_speech_secs == 0:
                await self._interrupt()
            else:
                self._pending = self.create_task(self._confirm(), turn=False)

    @on(VoiceStopped)
    async def user_stopped(self, frame: VoiceStopped) -> None:
        self.user_speaking = False
        self._cancel()  # too short to count (a cough, a "mm-hm")
        await self.push(frame)

    async def _confirm(self) -> None:
        await self.run.clock.sleep(self.min_speech_secs)
        self._pending = None
        if self.bot_speaking and self.user_speaking:
            await self._interrupt()

    async def _interrupt(self) -> None:
        self.interruptions += 1
        await self.interrupt()

    def _cancel(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None

    async def cleanup(self) -> None:
        self._cancel()
