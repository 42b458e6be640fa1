"""EngineEndpointer: turns decided by the recognizer itself (Deepgram's ``speech_final`` /
``UtteranceEnd``), for ``STTProcessor(finalize_on_pause=False)``.

It keeps the end-of-turn contract of ``processors.audio.turns.Endpointer`` (downstream:
``UserStartedSpeaking``, interim ``Transcript``s, one final ``Transcript`` for the turn, then
``UserStoppedSpeaking``) but waits for no silence window of its own: the engine joined the
turn's segments and closed it, so its final *is* the end of the turn. The VAD's
``VoiceStarted`` (or the engine's ``SpeechStarted`` forwarded as one) opens the turn; its
``VoiceStopped`` only notes the last voiced audio, for voice-to-voice latency.
"""

from __future__ import annotations

from voiceflow.core.processor import Processor, on
from voiceflow.frames.speech import UserStartedSpeaking, UserStoppedSpeaking, VoiceStarted, VoiceStopped
from voiceflow.frames.text import Transcript

__all__ = ["EngineEndpointer"]


class EngineEndpointer(Processor):
    produces = (UserStartedSpeaking, UserStoppedSpeaking, Transcript)

    def __init__(self, *, name: str | None = None) -> None:
        super().__init__(name=name)
        self.in_turn = False
        self.turns_ended = 0
        self._last_voiced_at: float | None = None

    async def _open(self) -> None:
        if not self.in_turn:
            self.in_turn = True
            await self.push(UserStartedSpeaking())

    @on(VoiceStarted)
    async def started(self, frame: VoiceStarted) -> None:
        await self._open()

    @on(VoiceStopped)
    async def stopped(self, frame: VoiceStopped) -> None:
        self._last_voiced_at = frame.last_voiced_at if frame.last_voiced_at is not None else frame.ts

    @on(Transcript)
    async def transcript(self, frame: Transcript) -> None:
        if not frame.final:
            await self._open()
            await self.push(frame)
            return
        if not frame.text.strip():
            return
        await self._open()
        await self.push(frame)
        self.in_turn = False
        self.turns_ended += 1
        last_voiced = self._last_voiced_at if self._last_voiced_at is not None else self.now()
        await self.push(UserStoppedSpeaking(last_voiced_at=last_voiced))
