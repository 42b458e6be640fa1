"""STTProcessor: caller audio in, interim and final transcripts out, through any ``STTEngine``.

Where it sits: after the VAD, before the endpointer. The VAD upstream marks voice
activity with ``VoiceStarted`` / ``VoiceStopped`` (a ``VoiceStopped`` is a *pause*, not
necessarily the end of the turn); the endpointer downstream decides turns
(``UserStartedSpeaking`` / ``UserStoppedSpeaking``) and joins the per-pause finals
this processor produces.

Audio is sent to the engine's stream only while the caller is voiced, preceded by a
short pre-roll of what was heard before ``VoiceStarted`` so word onsets the VAD needed
to confirm speech are not clipped. The stream's events are read by a task the run
owns and become ``Transcript`` frames (interims as they come, finals at each pause).

Ordering: on ``VoiceStopped`` the processor calls ``finalize()`` and waits for the
stream's answer, pushes that final ``Transcript``, and only then forwards the
``VoiceStopped``, on the same ordered lane, so a final never arrives after the pause
it closes. If the engine does not answer within ``final_timeout`` (run clock), the
latest interim stands in as the final and the late answer is dropped.

Engine failures (``STTFailure``) and audio the engine refuses go upstream as ``Error``
frames; the call goes on. Each finalize's answer time (and each failure) also leaves as
``provider_metrics`` (``provider/stt/<engine>``) for the provider latency and error counters.
With ``voice_from_engine`` the engine's own ``SpeechStarted``
is forwarded as ``VoiceStarted`` (a cloud recognizer that hears speech before our
VAD does can drive barge-in this way).

A cloud recognizer that ends turns itself (Deepgram's ``speech_final``) needs the silence
too: ``audio="all"`` sends every frame, and ``finalize_on_pause=False`` leaves the pauses to
it (its finals come on their own; ``EngineEndpointer`` turns them into turns) for as long as
the stream says it ``ends_turns`` (a ``FailoverSTT`` stream on the offline fallback does not:
pauses finalize again, so the fallback's turns still end).
``audio="external"`` takes the audio from ``send_external`` instead of the graph's frames,
in the stream's own ``encoding`` and ``stream_rate``: a Twilio call's mu-law straight from
the wire (``TwilioInput.wire_taps``), with no decode and resample round trip.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Literal

from voiceflow.core.processor import Processor, on
from voiceflow.frames import AudioRaw, End, Metrics, Transcript, VoicePaused, VoiceStarted, VoiceStopped
from voiceflow.services.provider_metrics import provider_metrics
from voiceflow.services.stt.engine import (
    Encoding,
    FinalText,
    InterimText,
    SpeechStarted,
    STTEngine,
    STTFailure,
    STTInputError,
    STTStream,
)


class STTProcessor(Processor):
    #: ``VoiceStarted`` only with ``voice_from_engine``
    produces = (Transcript, VoiceStarted, Metrics)

    def __init__(
        self,
        engine: STTEngine,
        *,
        name: str | None = None,
        sample_rate: int = 16000,
        preroll_ms: int = 300,
        forward_audio: bool = True,
        language: str = "en",
        hints: tuple[str, ...] = (),
        final_timeout: float = 3.0,
        voice_from_engine: bool = False,
        audio: Literal["voiced", "all", "external"] = "voiced",
        finalize_on_pause: bool = True,
        encoding: Encoding = "linear16",
        stream_rate: int | None = None,
        finalize_at_hint: bool = False,
    ) -> None:
        """``sample_rate`` is the graph's audio; ``encoding`` and ``stream_rate`` (default: the same
        rate) the stream's, which differ only with ``audio="external"``. With ``finalize_at_hint``
        the VAD's early ``VoicePaused`` closes the segment too (its final comes before the hint,
        so a reply can be prepared on it); the quiet after it is kept as pre-roll, not sent, and
        starts the next segment only if the voice comes back (``VoicePaused(resumed=True)``)."""
        super().__init__(name=name)
        self.finalize_at_hint = finalize_at_hint
        self._hinted = False  # the segment was closed at a pause hint, the VAD has not stopped
        self.audio_mode = audio
        self.finalize_on_pause = finalize_on_pause
        self.encoding: Encoding = encoding
        self.stream_rate = stream_rate or sample_rate
        self.engine = engine
        self.sample_rate = sample_rate
        self.forward_audio = forward_audio
        self.language = language
        self.hints = hints
        self.final_timeout = final_timeout
        self.voice_from_engine = voice_from_engine
        #: finals that did not come in time (an interim stood in for them)
        self.finals_timed_out = 0
        #: their real finals, dropped when they came
        self.late_finals_dropped = 0
        self._preroll: deque[bytes] = deque()
        self._preroll_samples = 0
        self._preroll_max = sample_rate * preroll_ms // 1000
        self._stream: STTStream | None = None
        self._speaking = False
        self._unfinalized = False  # audio sent since the last finalize
        self._interim = ""  # the latest interim since the last final
        self._answer: asyncio.Future[None] | None = None
        self._late_answers = 0  # finalize answers that timed out; dropped when they come
        self._last_error: tuple[str, float] | None = None

    async def setup(self) -> None:
        await self.engine.start(self.run.clock)
        self._stream = await self.engine.open_stream(
            sample_rate=self.stream_rate, encoding=self.encoding, language=self.language, hints=self.hints
        )
        self.create_task(self._read(self._stream), turn=False)

    async def cleanup(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            await stream.aclose()

    @property
    def stream(self) -> STTStream:
        if self._stream is None:
            raise RuntimeError(f"{self.name}: no STT stream (not set up)")
        return self._stream

    # -- audio ------------------------------------------------------------------------
    @on(AudioRaw)
    async def audio(self, frame: AudioRaw) -> None:
        if self.audio_mode == "external":  # the stream is fed from the wire (send_external)
            if self.forward_audio:
                await self.push(frame)
            return
        problem = self._problem(frame)
        if problem is not None:
            await self._reject(problem)
            return
        if self._speaking or self.audio_mode == "all":
            await self._send(frame.audio)
        else:
            self._remember(frame.audio)
        if self.forward_audio:
            await self.push(frame)

    def _problem(self, frame: AudioRaw) -> str | None:
        want = self.sample_rate
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

    async def send_external(self, audio: bytes) -> None:
        """Audio from outside the graph (``audio="external"``): a transport's wire tap calls this.
        Before set-up or after clean-up it is dropped; refused audio is reported, never raised."""
        if self._stream is None:
            return
        await self._send(audio)

    async def _send(self, audio: bytes) -> None:
        try:
            await self.stream.send(audio)
        except STTInputError as exc:
            await self._reject(f"{self.engine.name}: {exc}")
            return
        self._unfinalized = True

    # -- pauses ------------------------------------------------------------------------------
    @on(VoiceStarted)
    async def started(self, frame: VoiceStarted) -> None:
        await self._start_sending()
        await self.push(frame)

    async def _start_sending(self) -> None:
        if not self._speaking:
            self._speaking = True
            if self._preroll and self.audio_mode == "voiced":
                audio = b"".join(self._preroll)
                self._preroll.clear()
                self._preroll_samples = 0
                await self._send(audio)

    @on(VoicePaused)
    async def paused(self, frame: VoicePaused) -> None:
        if self.finalize_at_hint and self.finalize_on_pause:
            if not frame.resumed and self._speaking:
                await self._finalize()  # the quiet that follows waits in the pre-roll
                self._hinted = True
            elif frame.resumed and self._hinted:
                self._hinted = False
                await self._start_sending()  # the voice is back before the VAD's stop
        await self.push(frame)

    @on(VoiceStopped)
    async def stopped(self, frame: VoiceStopped) -> None:
        self._hinted = False
        # a stream that no longer ends turns itself (a failover left Deepgram) is finalized at pauses
        if self.finalize_on_pause or not getattr(self._stream, "ends_turns", True):
            await self._finalize()
        else:
            self._speaking = False
        await self.push(frame)

    async def on_end(self, frame: End) -> None:
        await self._finalize()

    async def _finalize(self) -> None:
        """Close the utterance and wait until its final has been pushed (or stood in for)."""
        self._speaking = False
        if not self._unfinalized or self._stream is None:
            return
        self._unfinalized = False
        answer: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._answer = answer
        try:
            asked = self.run.clock.now()
            await self._stream.finalize()
            await self.run.clock.wait_for(asyncio.shield(answer), self.final_timeout)
            latency_ms = (self.run.clock.now() - asked) * 1000.0  # finalize → its final, for the metrics
            await self.push(provider_metrics("stt", self.engine.name, latency_ms=latency_ms))
        except TimeoutError:
            await self.push(provider_metrics("stt", self.engine.name, error="timeout"))
            self._late_answers += 1
            self.finals_timed_out += 1
            await self.report_error(
                f"{self.engine.name}: no final {self.final_timeout:g}s after finalize; "
                "the latest interim stands in"
            )
            if self._interim:
                await self.push(Transcript(text=self._interim, final=True, language=self.language))
                self._interim = ""
        except Exception as exc:  # the stream is gone: say so; the pause still goes downstream
            await self.report_error(f"{self.engine.name}: {exc}", exception=exc)
        finally:
            self._answer = None

    # -- the engine's events (a task of the run) ----------------------------------------------
    async def _read(self, stream: STTStream) -> None:
        async for event in stream.events():
            if isinstance(event, InterimText):
                if event.text:
                    self._interim = event.text
                    await self.push(Transcript(text=event.text, final=False, language=self.language))
            elif isinstance(event, FinalText):
                await self._final(event)
            elif isinstance(event, SpeechStarted):
                if self.voice_from_engine:
                    await self.push(VoiceStarted())
            elif isinstance(event, STTFailure):
                await self.report_error(f"{self.engine.name}: {event.message}")
                await self.push(provider_metrics("stt", self.engine.name, error="STTFailure"))

    async def _final(self, event: FinalText) -> None:
        if event.from_finalize and self._late_answers:
            self._late_answers -= 1  # an interim already stood in for it
            self.late_finals_dropped += 1
            return
        self._interim = ""
        if event.text:
            await self.push(
                Transcript(
                    text=event.text,
                    final=True,
                    confidence=event.confidence,
                    language=self.language,
                    joins=event.joins,
                    joined_text=event.joined_text,
                )
            )
        answer = self._answer
        if event.from_finalize and answer is not None and not answer.done():
            answer.set_result(None)
