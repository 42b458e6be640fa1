"""Audio end-of-turn scoring: at each VAD pause, how finished the caller *sounds*.

``AudioTurnDetector`` sits after the VAD (before the STT) and keeps the current turn's
audio (up to the model's 8 s, at the line's rate). At every ``VoiceStopped`` it scores
that audio with a shared ``TurnModel`` (smart-turn v3.2) off the event loop and pushes an
``EndOfTurnScore`` for the pause (scored already at the VAD's earlier ``VoicePaused`` hint
when there is one, so the verdict is ready when the pause is; the score is then repeated
for the ``VoiceStopped``; the hint's audio is padded with ``hint_pad_secs`` of silence, as
the model reads a short quiet as less finished than the stop window's); the ``Endpointer``
(``audio_turn=True``) combines it with what the words say. The pause frames themselves are
forwarded at once, so the STT's finalisation is never held up by the model. Audio after a long silence (over
``new_turn_gap_secs``) starts a new buffer, keeping ``pre_speech_secs`` before the onset.
"""

from __future__ import annotations

import asyncio
from collections import deque

import numpy as np

from voiceflow.core.processor import Processor, on
from voiceflow.frames.audio import AudioRaw
from voiceflow.frames.speech import EndOfTurnScore, VoicePaused, VoiceStarted, VoiceStopped
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
        hint_pad_secs: float = 0.13,
    ) -> None:
        super().__init__(name=name)
        self.model = model
        self.new_turn_gap_secs = new_turn_gap_secs
        self.pre_speech_secs = pre_speech_secs
        self.hint_pad_secs = hint_pad_secs
        self.scored = 0
        self.failures = 0
        self._chunks: deque[bytes] = deque()
        self._bytes = 0
        self._rate = 0
        self._stopped_at: float | None = None
        self._task: asyncio.Task[None] | None = None
        #: the current quiet's score, once the hint's scoring is done (None: none yet)
        self._hint_p: float | None = None
        #: the ``VoiceStopped.last_voiced_at`` the hint's score is to be repeated for
        self._repeat_for: list[float | None] = []
        self._after_stop = False

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

    def _forget(self) -> None:
        if self._task is not None:
            self._task.cancel()  # the pause it judged was not the end
            self._task = None
        self._hint_p, self._repeat_for = None, []

    @on(VoicePaused)
    async def paused(self, frame: VoicePaused) -> None:
        await self.push(frame)
        if self._after_stop:
            return  # a candidate onset after the stop: the stop's score stands
        self._forget()
        if not frame.resumed and self._rate and self._bytes:
            pcm, rate = b"".join(self._chunks), self._rate
            pcm += bytes(2 * int(self.hint_pad_secs * rate))
            self._task = self.create_task(self._score(pcm, rate, frame.last_voiced_at, hint=True), turn=False)

    @on(VoiceStarted)
    async def started(self, frame: VoiceStarted) -> None:
        self._forget()
        self._after_stop = False
        if self._stopped_at is None or frame.ts - self._stopped_at > self.new_turn_gap_secs:
            self._trim(self.pre_speech_secs + 0.3)  # the onset is confirmed ~0.2 s into speech
        await self.push(frame)

    @on(VoiceStopped)
    async def stopped(self, frame: VoiceStopped) -> None:
        await self.push(frame)
        self._stopped_at = frame.ts
        self._after_stop = True
        if self._hint_p is not None:  # scored at the hint: the same quiet
            await self.push(EndOfTurnScore(probability=self._hint_p, last_voiced_at=frame.last_voiced_at))
            return
        if self._task is not None:  # the hint's scoring is under way: its score will say it
            self._repeat_for.append(frame.last_voiced_at)
            return
        if self._rate and self._bytes:
            pcm, rate = b"".join(self._chunks), self._rate
            self._task = self.create_task(self._score(pcm, rate, frame.last_voiced_at), turn=False)

    async def _score(
        self, pcm: bytes, rate: int, last_voiced_at: float | None, *, hint: bool = False
    ) -> None:
        try:
            p = await asyncio.to_thread(self._probability, pcm, rate)
        except Exception as exc:  # the endpointer falls back to the words alone
            self.failures += 1
            await self.report_error(f"turn model failed: {exc}", exception=exc)
            return
        self.scored += 1
        self._task = None
        if hint:
            self._hint_p = p
        await self.push(EndOfTurnScore(probability=p, last_voiced_at=last_voiced_at))
        repeat, self._repeat_for = self._repeat_for, []
        for at in repeat:
            await self.push(EndOfTurnScore(probability=p, last_voiced_at=at))

    def _probability(self, pcm: bytes, rate: int) -> float:
        if rate != TURN_MODEL_RATE:
            pcm = StreamResampler(rate, TURN_MODEL_RATE).process(pcm, last=True)
        audio = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
        return self.model.probability(audio)

    async def cleanup(self) -> None:
        if self._task is not None:
            self._task.cancel()
