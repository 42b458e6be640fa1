"""STTProcessor: caller audio in, interim and final transcripts out.

Audio is decoded as it arrives, off the event loop. A short pre-roll of audio
heard before ``VoiceStarted`` is decoded first so word onsets that the VAD
needed to confirm speech are not clipped. ``VoiceStopped`` (a pause heard by the
VAD upstream) closes the utterance: the final ``Transcript`` is pushed before the
``VoiceStopped`` it belongs to, on the same ordered lane, and the endpointer
downstream joins a turn's per-pause finals.
"""

from __future__ import annotations

import asyncio
from collections import deque

from voiceflow.core.processor import Processor, on
from voiceflow.frames import (
    AudioRaw,
    End,
    Transcript,
    VoiceStarted,
    VoiceStopped,
)
from voiceflow.services.stt.engine import STTEngine, STTSession


class STTProcessor(Processor):
    produces = (Transcript,)

    def __init__(
        self,
        engine: STTEngine | None = None,
        *,
        name: str | None = None,
        preroll_ms: int = 300,
        forward_audio: bool = True,
        language: str = "en",
    ) -> None:
        super().__init__(name=name)
        if engine is None:
            from voiceflow.services.stt.pocketsphinx import PocketsphinxEngine

            engine = PocketsphinxEngine()
        self.engine = engine
        self.forward_audio = forward_audio
        self.language = language
        self._preroll: deque[bytes] = deque()
        self._preroll_samples = 0
        self._preroll_max = engine.sample_rate * preroll_ms // 1000
        self._session: STTSession | None = None
        self._speaking = False
        self._last_error: tuple[str, float] | None = None

    async def setup(self) -> None:
        self._session = await asyncio.to_thread(self.engine.open_session)

    async def cleanup(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await asyncio.to_thread(session.close)

    @property
    def session(self) -> STTSession:
        if self._session is None:
            raise RuntimeError(f"{self.name}: no STT session (not set up)")
        return self._session

    # -- audio ------------------------------------------------------------------------
    @on(AudioRaw)
    async def audio(self, frame: AudioRaw) -> None:
        problem = self._problem(frame)
        if problem is not None:
            await self._reject(problem)
            return
        if self._speaking:
            await self._feed(frame.audio)
        else:
            self._remember(frame.audio)
        if self.forward_audio:
            await self.push(frame)

    def _problem(self, frame: AudioRaw) -> str | None:
        want = self.engine.sample_rate
        if frame.sample_rate != want:
            return f"STT needs {want} Hz audio, got {frame.sample_rate} Hz (resample before STT)"
        if frame.channels != 1:
            return f"STT needs mono audio, got {frame.channels} channels"
        if not frame.audio:
            return "empty audio frame"
        if len(frame.audio) % 2:
            return f"odd-length PCM16 frame ({len(frame.audio)} bytes): a sample is cut in half"
        return None

    async def _reject(self, message: str) -> None:
        """Report bad input upstream; the same complaint at most once a second (no flood)."""
        now = self.now()
        last = self._last_error
        if last is not None and last[0] == message and now - last[1] < 1.0:
            return
        self._last_error = (message, now)
        await self.report_error(message)

    def _remember(self, audio: bytes) -> None:
        self._preroll.append(audio)
        self._preroll_samples += len(audio) // 2
        while self._preroll and self._preroll_samples - len(self._preroll[0]) // 2 >= self._preroll_max:
            self._preroll_samples -= len(self._preroll.popleft()) // 2

    async def _feed(self, audio: bytes) -> None:
        interim = await asyncio.to_thread(self.session.feed, audio)
        if interim:
            await self.push(Transcript(text=interim, final=False, language=self.language))

    # -- turn boundaries --------------------------------------------------------------------
    @on(VoiceStarted)
    async def started(self, frame: VoiceStarted) -> None:
        if not self._speaking:
            self._speaking = True
            if self._preroll:
                audio = b"".join(self._preroll)
                self._preroll.clear()
                self._preroll_samples = 0
                await self._feed(audio)
        await self.push(frame)

    @on(VoiceStopped)
    async def stopped(self, frame: VoiceStopped) -> None:
        await self._finalize()
        await self.push(frame)

    async def on_end(self, frame: End) -> None:
        await self._finalize()

    async def _finalize(self) -> None:
        self._speaking = False
        if self._session is None or not self.session.in_utterance:
            return
        final = await asyncio.to_thread(self.session.finish)
        if final.text:
            await self.push(
                Transcript(text=final.text, final=True, confidence=final.confidence, language=self.language)
            )
