"""Small processors used by the core tests."""

from __future__ import annotations

import asyncio

from voiceflow.frames import Frame, LLMResponseEnd, LLMToken, TextToSpeak, Transcript, TTSAudio
from voiceflow.processors import Processor, on


class TokenStreamer(Processor):
    """Like an LLM: answers a final transcript with ``n`` tokens, one per ``gap`` seconds."""

    produces = (LLMToken, LLMResponseEnd)

    def __init__(self, *, name: str, n: int = 10, gap: float = 0.1) -> None:
        super().__init__(name=name)
        self.n = n
        self.gap = gap
        self.started = 0
        self.cancelled = 0
        self.finished = 0

    @on(Transcript)
    async def reply(self, frame: Transcript) -> None:
        await self.push(frame)
        if not frame.final:
            return
        self.started += 1
        try:
            for i in range(self.n):
                await self.run.clock.sleep(self.gap)
                await self.push(LLMToken(text=f"{frame.text}:{i}"))
            await self.push(LLMResponseEnd())
            self.finished += 1
        except asyncio.CancelledError:
            self.cancelled += 1
            raise


class SlowSpeaker(Processor):
    """Like a TTS: turns each token into audio, taking ``cost`` seconds per token."""

    produces = (TTSAudio,)
    queue_size = 1000

    def __init__(self, *, name: str, cost: float = 0.5) -> None:
        super().__init__(name=name)
        self.cost = cost

    @on(LLMToken)
    async def speak(self, frame: LLMToken) -> None:
        await self.run.clock.sleep(self.cost)
        await self.push(TTSAudio(audio=frame.text.encode().ljust(2, b"\0")[:2], sample_rate=8000))

    @on(TextToSpeak)
    async def text(self, frame: TextToSpeak) -> None:
        await self.run.clock.sleep(self.cost)
        await self.push(TTSAudio(audio=b"\0\0", sample_rate=8000))


class Gate(Processor):
    """Holds every frame until opened: lets a test pile frames up in a queue."""

    def __init__(self, *, name: str) -> None:
        super().__init__(name=name)
        self.open = asyncio.Event()

    @on(Frame)
    async def hold(self, frame: Frame) -> None:
        await self.open.wait()
        await self.push(frame)
