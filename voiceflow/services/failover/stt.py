"""FailoverSTT: one streaming recognizer in front of a chain (Deepgram → pocketsphinx), losing no words.

Each engine has a circuit breaker (``stt:<engine>``). A call's stream opens on the first
engine whose breaker allows it (the last engine is always tried: it is the offline
one). The stream keeps the audio sent since the last final transcript; when the
current engine fails (``send`` or ``finalize`` raises, or it reports an unrecoverable
``STTFailure``, or its events end unasked), the next engine's stream is opened and
that audio is replayed to it, so the caller's words of the utterance in progress are
recognized by the fallback instead of lost. A ``finalize`` still unanswered is asked
again of the fallback; a recognizer that does not answer a ``finalize`` within
``final_timeout`` seconds (of the run clock) counts as failed too. The switch is reported
as a recoverable ``STTFailure`` (the call goes on) and times in the fallback's results are
shifted to the call's timeline. ``ends_turns`` says whether the engine serving now ends
utterances itself: a call whose turns Deepgram ended goes on finalizing at pauses after a switch.

A fallback that cannot take the stream's encoding (μ-law 8 kHz from a phone line to
an engine that reads 16 kHz linear PCM) gets the audio decoded and resampled (soxr).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Sequence

import numpy as np

from voiceflow.core.clock import Clock
from voiceflow.services.failover.chain import Chain
from voiceflow.services.stt.engine import (
    Encoding,
    FinalText,
    STTClosedError,
    STTEngine,
    STTEvent,
    STTFailure,
    STTInputError,
    STTStream,
)

log = logging.getLogger("voiceflow.stt.failover")

#: audio kept for replay is bounded: at most this many seconds since the last final
MAX_REPLAY_S = 60.0


class FailoverSTT:
    def __init__(
        self,
        engines: Sequence[STTEngine],
        *,
        failure_threshold: int = 1,
        cooldown: float = 30.0,
        final_timeout: float = 3.0,
        clock: Clock | None = None,
    ) -> None:
        self.chain = Chain(
            "stt",
            engines,
            failure_threshold=failure_threshold,
            cooldown=cooldown,
            clock=clock,
            last_must_start=True,
        )
        self.engines = self.chain.engines
        self.breakers = self.chain.breakers
        #: the chain is known by its primary's name (pipelines choose behaviour by it)
        self.name = self.engines[0].name
        self.final_timeout = final_timeout
        self.encodings: tuple[Encoding, ...] = self.engines[0].encodings

    @property
    def clock(self) -> Clock:
        return self.chain.clock

    async def start(self, clock: Clock) -> None:
        """Adopt the clock and start every engine once; one that fails opens its breaker (not the last)."""
        await self.chain.start(clock)

    async def aclose(self) -> None:
        await self.chain.aclose()

    async def open_stream(
        self,
        *,
        sample_rate: int = 16000,
        encoding: Encoding = "linear16",
        language: str = "en",
        hints: tuple[str, ...] = (),
    ) -> FailoverSTTStream:
        stream = FailoverSTTStream(
            self, sample_rate=sample_rate, encoding=encoding, language=language, hints=hints
        )
        await stream.open_next(first=True)
        return stream


class _Converter:
    """μ-law 8 kHz → linear16 16 kHz for a fallback that reads only linear PCM."""

    def __init__(self) -> None:
        import soxr

        from voiceflow.services.tts.formats import AudioFormat, decoder

        self._decoder = decoder(AudioFormat("mulaw", 8000), "stt-failover")
        self._resampler = soxr.ResampleStream(8000, 16000, 1, dtype="int16")

    def __call__(self, ulaw: bytes) -> bytes:
        pcm = np.frombuffer(self._decoder.feed(ulaw), dtype=np.int16)
        return bytes(self._resampler.resample_chunk(pcm).tobytes())


class FailoverSTTStream:
    def __init__(
        self,
        owner: FailoverSTT,
        *,
        sample_rate: int,
        encoding: Encoding,
        language: str,
        hints: tuple[str, ...],
    ) -> None:
        self.owner = owner
        self.sample_rate = sample_rate
        self.encoding: Encoding = encoding
        self.language = language
        self.hints = hints
        self.index = -1
        self.inner: STTStream | None = None
        self._convert: _Converter | None = None
        #: audio (in the stream's own encoding) since the last final: replayed to a fallback
        self.pending: list[bytes] = []
        self._pending_bytes = 0
        #: seconds of the call's audio before the current engine's stream began
        self._offset = 0.0
        self._sent_to_current = 0.0
        self._unanswered_finalizes = 0
        #: finalize answers received so far (the deadline watch compares it)
        self._answered = 0
        self._events: asyncio.Queue[STTEvent | None] = asyncio.Queue()
        self._pump: asyncio.Task[None] | None = None
        self._switches: set[asyncio.Task[None]] = set()
        self._closed = False
        self._switching = asyncio.Lock()
        #: names of the engines this stream used, in order
        self.used: list[str] = []

    # -- engines --------------------------------------------------------------------------------
    @property
    def engine_name(self) -> str:
        return self.owner.engines[self.index].name if self.index >= 0 else ""

    @property
    def ends_turns(self) -> bool:
        """Whether the engine serving now closes utterances itself (Deepgram's endpointing); the
        offline fallback does not, so after a switch the caller's pauses must ``finalize``."""
        return self.index >= 0 and bool(getattr(self.owner.engines[self.index], "ends_turns", False))

    def _seconds(self, audio: bytes) -> float:
        width = 1 if self.encoding == "mulaw" else 2
        return len(audio) / width / self.sample_rate

    async def open_next(self, *, first: bool = False) -> None:
        """Open the next engine the breakers allow (the last always); raise when none can open."""
        errors: list[str] = []
        engines = self.owner.engines
        while self.index + 1 < len(engines):
            self.index += 1
            engine, breaker = engines[self.index], self.owner.breakers[self.index]
            last = self.index == len(engines) - 1
            if not last and not breaker.allow():
                continue
            encoding, rate = self.encoding, self.sample_rate
            self._convert = None
            if encoding not in engine.encodings:
                if encoding == "mulaw" and "linear16" in engine.encodings:
                    encoding, rate, self._convert = "linear16", 16000, _Converter()
            try:
                inner = await engine.open_stream(
                    sample_rate=rate, encoding=encoding, language=self.language, hints=self.hints
                )
            except STTInputError:
                raise
            except Exception as exc:
                breaker.record_failure(f"open failed: {exc}")
                errors.append(f"{engine.name}: {type(exc).__name__}: {exc}")
                continue
            self.inner = inner
            self.used.append(engine.name)
            self._pump = asyncio.create_task(self._forward(inner, self.index), name=f"stt-{engine.name}")
            return
        raise STTClosedError("no recognizer could open a stream: " + "; ".join(errors))

    async def _fail_over(self, reason: str) -> None:
        async with self._switching:
            if self._closed:
                return
            failed = self.engine_name
            self.owner.breakers[self.index].record_failure(reason)
            inner, pump = self.inner, self._pump
            self.inner = None
            if pump is not None and pump is not asyncio.current_task():
                pump.cancel()
            if inner is not None:
                with contextlib.suppress(Exception):
                    await inner.aclose()
            self._offset += self._sent_to_current - sum(self._seconds(a) for a in self.pending)
            self._sent_to_current = 0.0
            await self.open_next()
            note = (
                f"{failed} failed ({reason}); continuing on {self.engine_name}, "
                f"replaying {len(self.pending)} chunks"
            )
            log.warning("stt failover: %s", note)
            self._events.put_nowait(STTFailure(note, recoverable=True))
            assert self.inner is not None
            for audio in self.pending:
                await self._send_inner(audio)
            for _ in range(self._unanswered_finalizes):
                await self.inner.finalize()

    def _spawn_fail_over(self, reason: str) -> None:
        task = asyncio.get_running_loop().create_task(self._fail_over(reason), name="stt-failover")
        self._switches.add(task)
        task.add_done_callback(self._switches.discard)

    async def _send_inner(self, audio: bytes) -> None:
        assert self.inner is not None
        self._sent_to_current += self._seconds(audio)
        data = self._convert(audio) if self._convert is not None else audio
        if data:  # the resampler holds back a few samples at first
            await self.inner.send(data)

    async def _forward(self, inner: STTStream, index: int) -> None:
        try:
            async for event in inner.events():
                if isinstance(event, STTFailure) and not event.recoverable:
                    self._spawn_fail_over(event.message)
                    return
                if isinstance(event, FinalText):
                    self.owner.breakers[index].record_success()
                    self.pending.clear()
                    self._pending_bytes = 0
                    if event.from_finalize and self._unanswered_finalizes:
                        self._unanswered_finalizes -= 1
                        self._answered += 1
                    event = _shift(event, self._offset)
                self._events.put_nowait(event)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._spawn_fail_over(f"{type(exc).__name__}: {exc}")
            return
        if not self._closed and self.inner is inner:
            self._spawn_fail_over("its event stream ended")

    # -- the STTStream protocol ---------------------------------------------------------------------
    async def send(self, audio: bytes) -> None:
        if self._closed:
            raise STTClosedError("send on a closed stream")
        self.pending.append(audio)
        self._pending_bytes += len(audio)
        while self._pending_bytes and self._seconds(b"\0" * self._pending_bytes) > MAX_REPLAY_S:
            self._pending_bytes -= len(self.pending.pop(0))
        async with self._switching:
            if self.inner is None:
                return  # a switch is under way: the replay carries this chunk
            try:
                await self._send_inner(audio)
                return
            except STTInputError:
                self.pending.pop()
                raise
            except Exception as exc:
                reason = f"send failed: {type(exc).__name__}: {exc}"
        await self._fail_over(reason)

    async def finalize(self) -> None:
        if self._closed:
            raise STTClosedError("finalize on a closed stream")
        self._unanswered_finalizes += 1
        self._watch_final(self._unanswered_finalizes, self.index)
        async with self._switching:
            if self.inner is None:
                return
            try:
                await self.inner.finalize()
                return
            except Exception as exc:
                reason = f"finalize failed: {type(exc).__name__}: {exc}"
        await self._fail_over(reason)

    def _watch_final(self, waiting: int, index: int) -> None:
        """Fail over when this finalize is still unanswered by the same engine after ``final_timeout``."""
        answered_before = self._answered

        async def watch() -> None:
            await self.owner.clock.sleep(self.owner.final_timeout)
            if self._answered == answered_before and self.index == index and not self._closed:
                await self._fail_over(f"no final within {self.owner.final_timeout:g}s of finalize")

        task = asyncio.get_running_loop().create_task(watch(), name="stt-final-watch")
        self._switches.add(task)
        task.add_done_callback(self._switches.discard)

    async def events(self) -> AsyncIterator[STTEvent]:
        while True:
            event = await self._events.get()
            if event is None:
                return
            yield event

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        for task in list(self._switches):
            if task.get_name() == "stt-final-watch":
                task.cancel()
        if self._switches:
            await asyncio.gather(*self._switches, return_exceptions=True)
        pump, inner = self._pump, self.inner
        if pump is not None:
            pump.cancel()
            await asyncio.gather(pump, return_exceptions=True)
        if inner is not None:
            with contextlib.suppress(Exception):
                await inner.aclose()
        self._events.put_nowait(None)


def _shift(event: FinalText, offset: float) -> FinalText:
    if not offset:
        return event
    words = tuple(dataclasses.replace(w, start=w.start + offset, end=w.end + offset) for w in event.words)
    return dataclasses.replace(event, start=event.start + offset, end=event.end + offset, words=words)
