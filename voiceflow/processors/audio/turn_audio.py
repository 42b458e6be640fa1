"""Audio end-of-turn scoring: at each VAD pause, how finished the caller *sounds*.

``AudioTurnDetector`` sits after the VAD (before the STT) and keeps the current turn's
audio (up to the model's 8 s, at the line's rate). At every ``VoiceStopped`` it scores
that audio with a shared ``TurnModel`` (smart-turn v3.2) off the event loop and pushes an
``EndOfTurnScore`` for the pause; the ``Endpointer`` (``audio_turn=True``) combines it with
what the words say. The pause frames themselves are forwarded at once, so the STT's
finalisation is never held up by the model. Audio after a long silence (over
``new_turn_gap_secs``) starts a new buffer, keeping ``pre_speech_secs`` before the onset.
"""

from __future__ import annotations

import asyncio
from collections import deque

import numpy as np

from voiceflow.core.processor import Processor, on
from voiceflow.frames.audio import AudioRaw
from voiceflow.frames.speech import EndOfTurnScore, VoiceStarted, VoiceStopped
from voiceflow.processors.audio.resample import StreamResampler
from voiceflow.services.turn.engine import TURN_MODEL_RATE, TurnModel

__all__ = ["AudioTurnDetector"]

WINDOW_SECS = 8.0


class AudioTurnDetector(Processor):
    """Pushes an ``EndOfTurnScore`` after every ``VoiceStopped`` (see module doc)."""

    produces = (EndOfTurnScore,)

    def __init__(
        self,
        model: TurnModel,
        *,
        name: str | None = None,
        new_turn_gap_secs: float = 2.0,
        pre_speech_secs: float = 0.5,
    ) -> None:
        super().__init__(name=name)
        self.model = model
        self.new_turn_gap_secs = new_turn_gap_secs
        self.pre_speech_secs = pre_speech_secs
        self.scored = 0
        self.failures = 0
        self._chunks: deque[bytes] = deque()
        self._bytes = 0
        self._rate = 0
        self._stopped_at: float | None = None
        self._task: asyncio.Task[None] | None = None

    @on(AudioRaw)
    async def audio(self, frame: AudioRaw) -> None:
        if frame.channels == 1 and frame.audio and len(frame.audio) % 2 == 0:
            if frame.sample_rate != self._rate:
                self._chunks.clear()
                self._bytes, self._rate = 0, frame.sample_rate
            self._chunks.append(frame.audio)
            self._bytes += len(frame.audio)
            self._trim(WINDOW_SECS)
        await self.push(frame)

    def _trim(self, secs: float) -> None:
        keep = int(secs * self._rate) * 2
        while self._chunks and self._bytes - len(self._chunks[0]) >= keep:
            self._bytes -= len(self._chunks.popleft())

    @on(VoiceStarted)
    async def started(self, frame: VoiceStarted) -> None:
        if self._task is not None:
            self._task.cancel()  # the pause it judged was not the end
            self._task = None
        if self._stopped_at is None or frame.ts - self._stopped_at > self.new_turn_gap_secs:
            self._trim(self.pre_speech_secs + 0.3)  # the onset is confirmed ~0.2 s into speech
        await self.push(frame)

    @on(VoiceStopped)
    async def stopped(self, frame: VoiceStopped) -> None:
        await self.push(frame)
        self._stopped_at = frame.ts
        if self._rate and self._bytes:
            pcm, rate = b"".join(self._chunks), self._rate
            self._task = self.create_task(self._score(pcm, rate, frame.last_voiced_at), turn=False)

    async def _score(self, pcm: bytes, rate: int, last_voiced_at: float | None) -> None:
        try:
            p = await asyncio.to_thread(self._probability, pcm, rate)
        except Exception as exc:  # the endpointer falls back to the words alone
            self.failures += 1
            await self.report_error(f"turn model failed: {exc}", exception=exc)
            return
        self.scored += 1
        self._task = None
        await self.push(EndOfTurnScore(probability=p, last_voiced_at=last_voiced_at))

    def _probability(self, pcm: bytes, rate: int) -> float:
        if rate != TURN_MODEL_RATE:
            pcm = StreamResampler(rate, TURN_MODEL_RATE).process(pcm, last=True)
        audio = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
        return self.model.probability(audio)

    async def cleanup(self) -> None:
        if self._task is not None:
            self._task.cancel()
