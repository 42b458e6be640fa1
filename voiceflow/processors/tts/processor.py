"""TTSProcessor: agent text in, agent audio (TTSAudio at the engine's rate) out.

Streamed LLM tokens are cut into clauses (see ``clauses``) and each clause is
synthesized as soon as it is complete; ``LLMResponseEnd`` flushes the rest. An engine that
takes text as it arrives (``synthesize_stream``: the cloud voices and their router) is given
the whole response on one stream instead (ElevenLabs: one stream-input socket, Cartesia: one
context per response), the tokens passed on as they come; Piper keeps the clause path. One
``utterance_id`` per TextToSpeak or per LLM response ties the audio chunks
together for playout reports. SSML is rendered here for engines without SSML.
The caller's latest emotion (from ``Intent``) sets the base prosody.

The engine is started (``start(run.clock)``) in ``setup``; it belongs to whoever built
it, who closes it: a processor never does, since other calls share the engine.

On Interrupt the core cancels the in-flight handler; the engine stream is closed
with it, which stops the synthesis thread, and any stale chunk still in flight is
dropped by the generation check.

Each request to the engine is measured as a provider (``provider_metrics``: time to first
audio, failures): an engine that reports its own voices (the ``TTSRouter``) is collected from,
any other is timed here.

``ResumeSpeaking(utterance_id, from_ms)`` (a false interruption, from ``BargeIn``) says the
rest of a recent utterance from the position the caller had heard, as a new utterance:
from the audio kept for it (the last ``keep_utterances``) when its synthesis had finished,
else by synthesizing it again and skipping what was heard.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import OrderedDict
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field

from voiceflow.core.processor import Processor, on
from voiceflow.frames import (
    Intent,
    Interrupt,
    LLMResponseEnd,
    LLMToken,
    Metrics,
    ResumeSpeaking,
    TextToSpeak,
    TTSAudio,
)
from voiceflow.services.provider_metrics import collecting, provider_metrics
from voiceflow.services.tts.clauses import ClauseSplitter
from voiceflow.services.tts.engine import TTSEngine, TTSError, silence
from voiceflow.services.tts.prosody import NEUTRAL, Prosody, prosody_for
from voiceflow.services.tts.ssml import Pause, Segment, Speech, SSMLError, parse, render


class _Chunker:
    """Cuts a byte stream into fixed-size chunks; the remainder leaves on flush."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._buf = b""

    def add(self, data: bytes) -> list[bytes]:
        buf = self._buf + data
        cut = len(buf) - len(buf) % self.size
        self._buf = buf[cut:]
        return [buf[i : i + self.size] for i in range(0, cut, self.size)]

    def flush(self) -> bytes:
        rest, self._buf = self._buf, b""
        return rest


@dataclass
class _Spoken:
    """A recent utterance: what was said and the audio made for it so far."""

    segments: list[Segment]
    rate: int
    audio: bytearray = field(default_factory=bytearray)
    complete: bool = False


@dataclass
class _Live:
    """An LLM response spoken on one engine stream while its tokens arrive."""

    uid: int
    pieces: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)
    task: asyncio.Task[None] | None = None
    text: str = ""


class _FirstAudio:
    """Time to first audio of each engine request, or its failure, as provider metrics: only
    for an engine that does not report its own (the router reports each voice it tries)."""

    def __init__(self, processor: TTSProcessor, reports: list[Metrics]) -> None:
        self.name = processor.engine.name
        self.now = processor.now
        self.own = not getattr(processor.engine, "reports_providers", False)
        self.reports = reports
        self.asked_at: float | None = None

    def asked(self) -> None:
        self.asked_at = self.now()

    def heard(self) -> None:
        if self.own and self.asked_at is not None:
            latency_ms = (self.now() - self.asked_at) * 1000.0
            self.reports.append(provider_metrics("tts", self.name, latency_ms=latency_ms))
            self.asked_at = None

    def failed(self, exc: TTSError) -> None:
        if self.own:
            self.reports.append(provider_metrics("tts", self.name, error=type(exc).__name__))


class TTSProcessor(Processor):
    produces = (TTSAudio, Metrics)

    def __init__(
        self,
        engine: TTSEngine,
        *,
        name: str | None = None,
        chunk_ms: int = 40,
        soft_min_chars: int = 30,
        emotion_aware: bool = True,
        keep_utterances: int = 4,
    ) -> None:
        super().__init__(name=name)
        if not 10 <= chunk_ms <= 200:
            raise ValueError(f"chunk_ms {chunk_ms} outside 10..200")
        self.engine = engine
        self.chunk_ms = chunk_ms
        self.emotion_aware = emotion_aware
        self.emotion = "neutral"
        self.splitter = ClauseSplitter(soft_min_chars=soft_min_chars)
        self._utterance_ids = itertools.count(1)
        self._response_uid: int | None = None
        self.keep_utterances = keep_utterances
        self._spoken: OrderedDict[int, _Spoken] = OrderedDict()
        #: utterances said again from the played position after a false interruption
        self.resumed = 0
        #: the engine takes a response's text as it arrives (one stream per response)
        self.streams_text = callable(getattr(engine, "synthesize_stream", None))
        self._live: _Live | None = None

    async def setup(self) -> None:
        # engines are shared by calls: the first start loads, later ones return at once
        await self.engine.start(self.run.clock)

    @property
    def base_prosody(self) -> Prosody:
        return prosody_for(self.emotion) if self.emotion_aware else NEUTRAL

    # -- inputs -----------------------------------------------------------------------------
    @on(Intent)
    async def intent(self, frame: Intent) -> None:
        self.emotion = frame.emotion or "neutral"
        await self.push(frame)

    @on(TextToSpeak)
    async def text_to_speak(self, frame: TextToSpeak) -> None:
        uid = frame.utterance_id or next(self._utterance_ids)
        if frame.ssml is not None:
            try:
                segments = self._from_ssml(frame.ssml)
            except SSMLError as exc:
                await self.report_error(f"TextToSpeak: {exc}", exception=exc)
                return
        elif not frame.text.strip():
            await self.report_error("TextToSpeak with empty text: nothing to say")
            return
        else:
            segments = [Speech(frame.text)]
        # the text travels on ahead of its audio so output transports can show what is said
        await self.push(frame)
        await self._say(segments, uid)

    @on(LLMToken)
    async def token(self, frame: LLMToken) -> None:
        await self.push(frame)
        if self.streams_text:
            self._stream_piece(frame.text)
            return
        for clause in self.splitter.add(frame.text):
            await self._say([Speech(clause)], self._current_response())

    @on(LLMResponseEnd)
    async def response_end(self, frame: LLMResponseEnd) -> None:
        live, self._live = self._live, None
        if live is not None and live.task is not None:  # the text is complete: its audio ends first
            live.pieces.put_nowait(None)
            await asyncio.wait({live.task})
        rest = self.splitter.flush()
        if rest:
            await self._say([Speech(rest)], self._current_response())
        self._response_uid = None
        await self.push(frame)

    @on(ResumeSpeaking)
    async def resume_speaking(self, frame: ResumeSpeaking) -> None:
        spoken = self._spoken.get(frame.utterance_id)
        if spoken is None:
            await self.report_error(f"cannot resume utterance {frame.utterance_id}: no longer kept")
            return
        skip = 2 * int(frame.from_ms * spoken.rate / 1000)
        uid = next(self._utterance_ids)
        self.resumed += 1
        if spoken.complete:
            rest = self._keep(spoken.segments, uid, spoken.rate)  # resumable again
            rest.audio += spoken.audio[skip:]
            rest.complete = True
            chunker = _Chunker(2 * spoken.rate * self.chunk_ms // 1000)
            await self._emit([*chunker.add(bytes(rest.audio)), chunker.flush()], spoken.rate, uid)
            return
        await self._say(spoken.segments, uid, skip_bytes=skip)

    async def on_interrupt(self, frame: Interrupt) -> None:
        self.splitter.reset()
        self._response_uid = None
        self._live = None  # its task dies with its turn: the engine stream is closed

    # -- synthesis ---------------------------------------------------------------------------
    def _current_response(self) -> int:
        if self._response_uid is None:
            self._response_uid = next(self._utterance_ids)
        return self._response_uid

    def _from_ssml(self, ssml: str) -> list[Segment]:
        if self.engine.supports_ssml:
            parse(ssml)  # reject malformed SSML here with a clear error
            return [Speech(ssml)]
        return render(ssml)

    def _keep(self, segments: Sequence[Segment], uid: int, rate: int) -> _Spoken:
        spoken = self._spoken.get(uid)
        if spoken is None:
            spoken = self._spoken[uid] = _Spoken([], rate)
            while len(self._spoken) > self.keep_utterances:
                self._spoken.popitem(last=False)
        spoken.segments.extend(segments)
        spoken.complete = False
        return spoken

    async def _say(self, segments: Sequence[Segment], uid: int, *, skip_bytes: int = 0) -> None:
        rate = self.engine.sample_rate
        chunker = _Chunker(2 * rate * self.chunk_ms // 1000)
        base = self.base_prosody
        spoken = self._keep(segments, uid, rate)
        skip = skip_bytes

        async def emit(pcm: bytes) -> None:
            nonlocal skip
            spoken.audio += pcm
            if skip:
                dropped = min(skip, len(pcm))
                pcm, skip = pcm[dropped:], skip - dropped
            await self._emit(chunker.add(pcm), rate, uid)

        with collecting() as reports:
            first = _FirstAudio(self, reports)
            try:
                for seg in segments:
                    if isinstance(seg, Pause):
                        await emit(silence(seg.seconds, rate))
                        continue
                    # closed on the way out, cancellation included: that stops the engine's work now
                    stream = self.engine.synthesize(seg.text, prosody=base.then(seg.prosody))
                    first.asked()
                    async with contextlib.aclosing(stream) as pcms:
                        async for pcm in pcms:
                            first.heard()
                            await self._push_reports(reports)
                            await emit(pcm)
            except TTSError as exc:
                await self._failed(exc, first)
            else:
                spoken.complete = True
            await self._push_reports(reports)
        tail = chunker.flush()
        if tail:
            await self._emit([tail], rate, uid)

    def _stream_piece(self, text: str) -> None:
        live = self._live
        if live is None:
            live = self._live = _Live(self._current_response())
            live.task = self.create_task(self._speak_live(live))
        live.text += text
        live.pieces.put_nowait(text)

    async def _speak_live(self, live: _Live) -> None:
        """One response on one engine stream (``synthesize_stream``), fed as its tokens arrive."""
        rate = self.engine.sample_rate
        chunker = _Chunker(2 * rate * self.chunk_ms // 1000)
        spoken = self._keep([], live.uid, rate)

        async def pieces() -> AsyncGenerator[str, None]:
            while (piece := await live.pieces.get()) is not None:
                yield piece

        speak = self.engine.synthesize_stream  # type: ignore[attr-defined]
        with collecting() as reports:
            first = _FirstAudio(self, reports)
            try:
                first.asked()
                async with contextlib.aclosing(speak(pieces(), prosody=self.base_prosody)) as pcms:
                    async for pcm in pcms:
                        first.heard()
                        await self._push_reports(reports)
                        spoken.audio += pcm
                        await self._emit(chunker.add(pcm), rate, live.uid)
            except TTSError as exc:
                await self._failed(exc, first)
            else:
                spoken.complete = True
            finally:
                spoken.segments[:] = [Speech(live.text)]  # what a resume says again (from its played point)
            await self._push_reports(reports)
        tail = chunker.flush()
        if tail:
            await self._emit([tail], rate, live.uid)

    async def _failed(self, exc: TTSError, first: _FirstAudio) -> None:
        first.failed(exc)
        await self._push_reports(first.reports)
        await self.report_error(f"TTS failed: {exc}", exception=exc)

    async def _push_reports(self, reports: list[Metrics]) -> None:
        while reports:
            await self.push(reports.pop(0))

    async def _emit(self, chunks: list[bytes], rate: int, uid: int) -> None:
        for chunk in chunks:
            if chunk:
                await self.push(TTSAudio(audio=chunk, sample_rate=rate, utterance_id=uid))
