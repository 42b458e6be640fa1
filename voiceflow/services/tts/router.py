"""TTSRouter: one TTSEngine in front of several, chosen per utterance by policy, with failover.

Policies: ``quality`` (best voice first: ElevenLabs), ``speed`` (fastest first audio
first: Cartesia; measured time to first audio once there is one, the declared score
before), ``cost`` (cheapest per character first; ``cost`` is the price per 1 000
characters from the config) and ``auto`` (a blend of quality, live speed and price,
with an engine's recent failures counted against it). The fallback engine (Piper)
costs nothing and is always tried last, whatever its health, so the agent can always
speak.

Health is one ``CircuitBreaker`` per engine (named ``tts:<engine>``, on the router's
clock): an engine that raises, gives no first audio within ``first_audio_timeout`` or
dies mid-utterance opens its breaker; after ``cooldown`` seconds exactly one utterance
tries it again. When an engine dies mid-utterance the rest of that utterance is spoken
by the next engine, starting at the first word the dead one had not begun, so nothing already
played is repeated: found from the voice's own word times (Cartesia's word timestamps,
ElevenLabs' character alignment) against the audio it delivered (all of which the transport
plays: nothing is cleared on a failover), and estimated from its learnt seconds per character
only past the last word it timed or for a voice that times none (Piper).
Engines at another rate are resampled (soxr) to the router's rate,
the fallback's unless ``sample_rate`` is given (the transport's, so a phone line's μ-law
voices pass untouched and only Piper is resampled). SSML goes as is to engines that
read it and is rendered for the others. Each voice tried reports its time to first audio or
its failure (``provider_metrics.report``): the TTS processor pushes them as provider frames.

``synthesize_stream`` takes an utterance's text as it arrives (LLM tokens): one stream on a voice
that takes one (ElevenLabs' stream-input socket, a Cartesia context), a clause at a time on Piper,
with the same failover (``feed.TextFeed`` replays the rest to the next voice).

The router owns its engines: ``start`` starts them all (a routed engine that fails to
start opens its breaker and is started again when next tried), ``aclose`` closes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncGenerator, AsyncIterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from voiceflow.core.clock import Clock, MonotonicClock
from voiceflow.services.breaker import BreakerState, CircuitBreaker
from voiceflow.services.provider_metrics import report
from voiceflow.services.tts.engine import TTSEngine, TTSError, WordTime, silence
from voiceflow.services.tts.feed import TextFeed, clause_by_clause
from voiceflow.services.tts.prosody import NEUTRAL, Prosody
from voiceflow.services.tts.ssml import Pause, plain_text, render

log = logging.getLogger("voiceflow.tts.router")

Policy = Literal["auto", "quality", "speed", "cost"]
POLICIES: tuple[Policy, ...] = ("auto", "quality", "speed", "cost")
#: seconds of speech per character before an engine's own rate is learnt (Piper speaks ~0.065)
DEFAULT_SECONDS_PER_CHAR = 0.065


@dataclass(slots=True)
class RoutedEngine:
    """An engine with its declared scores (0..1) and its price (per 1 000 characters)."""

    engine: TTSEngine
    quality: float = 0.5
    speed: float = 0.5
    cost: float = 0.0
    #: set by the router (one per engine, on the router's clock) unless given
    breaker: CircuitBreaker | None = None
    failures: int = 0
    #: live time to first audio, seconds (moving average); None until measured
    ttfa: float | None = None
    #: seconds of audio per character of text (moving average)
    seconds_per_char: float = DEFAULT_SECONDS_PER_CHAR
    utterances: int = field(default=0)

    def live_speed(self) -> float:
        """0..1, higher is faster: the measured first-audio time once known, else the declared score."""
        if self.ttfa is None:
            return self.speed
        return 1.0 / (1.0 + self.ttfa / 0.25)


class TTSRouter:
    name = "router"
    #: SSML reaches engines that read it; the router renders it for the others
    supports_ssml = True
    #: each voice tried reports its own provider metrics (the TTS processor does not time the router)
    reports_providers = True

    def __init__(
        self,
        engines: Sequence[RoutedEngine],
        *,
        fallback: TTSEngine | None = None,
        policy: Policy = "auto",
        first_audio_timeout: float = 2.0,
        cooldown: float = 30.0,
        failure_threshold: int = 1,
        auto_weights: tuple[float, float, float] = (0.4, 0.4, 0.2),
        clock: Clock | None = None,
        sample_rate: int | None = None,
    ) -> None:
        if policy not in POLICIES:
            raise ValueError(f"unknown TTS policy {policy!r}; choose from {POLICIES}")
        if fallback is None:
            from voiceflow.services.tts.piper import PiperEngine

            fallback = PiperEngine()
        self.engines = list(engines)
        self.fallback = fallback
        #: the output rate: the transport's (8 kHz on a phone line), else the fallback's
        self._rate = sample_rate
        self.policy: Policy = policy
        self.first_audio_timeout = first_audio_timeout
        self.cooldown = cooldown
        self.auto_weights = auto_weights
        self._clock_given = clock is not None
        #: health and cool-downs are on this clock: the run's (adopted in ``start``) unless given here
        self.clock: Clock = clock if clock is not None else MonotonicClock()
        for entry in self.engines:
            if entry.breaker is None:
                entry.breaker = CircuitBreaker(
                    failure_threshold=failure_threshold,
                    cooldown=cooldown,
                    clock=self.clock,
                    name=f"tts:{entry.engine.name}",
                )
        #: name of the engine that spoke the last utterance (the last one, after a failover)
        self.last_engine: str | None = None
        #: the engines that spoke each part of the last utterance, with the text each was given
        self.last_parts: list[tuple[str, str]] = []
        self._started = False
        self._running: set[int] = set()  # ids of the engines started (and not closed since)

    @property
    def sample_rate(self) -> int:
        return self._rate or self.fallback.sample_rate

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self, clock: Clock) -> None:
        """Adopt ``clock`` (unless one was given) and start every engine; a no-op once started.

        The fallback must start (it is the last resort): its failure raises TTSError. A routed
        engine that fails to start opens its breaker and is started again when next tried.
        """
        if self._started:
            return
        if not self._clock_given:
            self.clock = clock
            for entry in self.engines:
                assert entry.breaker is not None
                entry.breaker.clock = clock
        try:
            await self._start_engine(self.fallback)
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
            raise TTSError(f"fallback {self.fallback.name} failed to start: {reason}") from exc
        entries = [e for e in self.engines if e.engine is not self.fallback]
        starts = (self._start_engine(e.engine) for e in entries)
        results = await asyncio.gather(*starts, return_exceptions=True)
        for entry, result in zip(entries, results, strict=True):
            if isinstance(result, BaseException):
                if not isinstance(result, Exception):
                    raise result
                self._failed(entry, f"failed to start: {type(result).__name__}: {result}")
        self._started = True

    async def aclose(self) -> None:
        """Close every engine the router started (the fallback included); idempotent."""
        self._started = False
        engines = [*(e.engine for e in self.engines if e.engine is not self.fallback), self.fallback]
        for engine in engines:
            if id(engine) not in self._running:
                continue
            self._running.discard(id(engine))
            try:
                await engine.aclose()
            except Exception:
                log.warning("closing tts engine %s failed", engine.name, exc_info=True)

    async def _start_engine(self, engine: TTSEngine) -> None:
        if id(engine) not in self._running:
            await engine.start(self.clock)
            self._running.add(id(engine))

    # -- policy ---------------------------------------------------------------------------------
    def ranked(self, policy: Policy | None = None) -> list[RoutedEngine]:
        """Engines in the order ``policy`` would try them (healthy or not)."""
        policy = policy or self.policy
        wq, ws, wc = self.auto_weights

        def auto(e: RoutedEngine) -> tuple[float]:
            recent = e.breaker.failures if e.breaker is not None else 0
            return (-(wq * e.quality + ws * e.live_speed() - wc * e.cost - 0.2 * recent),)

        keys = {
            "quality": lambda e: (-e.quality, -e.live_speed(), e.cost),
            "speed": lambda e: (-e.live_speed(), -e.quality, e.cost),
            "cost": lambda e: (e.cost, -e.quality, -e.live_speed()),
            "auto": auto,
        }
        if policy not in keys:
            raise ValueError(f"unknown TTS policy {policy!r}; choose from {POLICIES}")
        return sorted(self.engines, key=keys[policy])

    @staticmethod
    def healthy(entry: RoutedEngine) -> bool:
        """Not open and no half-open trial out (a query: it claims no trial)."""
        breaker = entry.breaker
        assert breaker is not None
        state = breaker.state
        return state is BreakerState.CLOSED or (state is BreakerState.HALF_OPEN and not breaker.trial_out)

    def plan(self, policy: Policy | None = None) -> list[TTSEngine]:
        """The engines the next utterance will try, in order (fallback last)."""
        chosen = [e.engine for e in self.ranked(policy) if self.healthy(e) and e.engine is not self.fallback]
        return [*chosen, self.fallback]

    def _entry(self, engine: TTSEngine) -> RoutedEngine | None:
        return next((e for e in self.engines if e.engine is engine), None)

    def _voice_failed(
        self, engine: TTSEngine, entry: RoutedEngine | None, failure: _EngineFailed, errors: list[str]
    ) -> RoutedEngine:
        """A voice failed mid-utterance: reported and counted, its entry returned (the last resort
        failing ends the utterance)."""
        report("tts", engine.name, error=failure.error)
        errors.append(f"{engine.name}: {failure.reason}")
        if entry is None:
            raise TTSError("no TTS engine could speak: " + "; ".join(errors)) from failure.__cause__
        self._failed(entry, failure.reason)
        return entry

    def _failed(self, entry: RoutedEngine, reason: str) -> None:
        entry.failures += 1
        assert entry.breaker is not None
        entry.breaker.record_failure(reason)
        log.warning(
            "tts engine %s failed (%s); breaker %s", entry.engine.name, reason, entry.breaker.state.value
        )

    def _learn(self, entry: RoutedEngine, ttfa: float | None, text: str, seconds: float) -> None:
        if ttfa is not None:
            entry.ttfa = ttfa if entry.ttfa is None else 0.7 * entry.ttfa + 0.3 * ttfa
        if seconds > 0 and len(text) >= 10:
            spc = seconds / len(text)
            entry.seconds_per_char = (
                spc if entry.utterances == 0 else 0.7 * entry.seconds_per_char + 0.3 * spc
            )
            entry.utterances += 1

    # -- synthesis ------------------------------------------------------------------------------
    async def synthesize(
        self, text: str, *, prosody: Prosody = NEUTRAL, policy: Policy | None = None
    ) -> AsyncGenerator[bytes, None]:
        if not text.strip():  # bad input, not an engine failure: no breaker is touched
            raise TTSError("nothing to synthesize (empty text)")
        errors: list[str] = []
        self.last_parts = []
        remaining = text
        for engine in self.plan(policy):
            last_resort = engine is self.fallback
            entry = None if last_resort else self._entry(engine)
            if entry is not None:
                assert entry.breaker is not None
                if not entry.breaker.allow():  # a half-open trial already taken by another call
                    continue
            spoken = 0.0
            verdict = False
            timed: list[WordTime] = []  # the voice's own word times, as they come
            try:
                async with contextlib.aclosing(
                    self._speak(engine, entry, remaining, prosody, timed)
                ) as parts:
                    async for pcm, seconds in parts:
                        spoken = seconds
                        yield pcm
                verdict = True
            except _EngineFailed as failure:
                verdict = True
                failed = self._voice_failed(engine, entry, failure, errors)
                if spoken > 0:
                    remaining = _rest_after(_words_of(remaining), spoken, failed.seconds_per_char, timed)
                    if not remaining:
                        return
                continue
            finally:
                if not verdict and entry is not None and entry.breaker is not None:
                    entry.breaker.release()  # interrupted: no verdict, the next caller may try
            if entry is not None:
                assert entry.breaker is not None
                entry.breaker.record_success()
            return
        raise TTSError("no TTS engine could speak: " + "; ".join(errors))  # pragma: no cover - fallback last

    async def synthesize_stream(
        self, pieces: AsyncIterable[str], *, prosody: Prosody = NEUTRAL, policy: Policy | None = None
    ) -> AsyncGenerator[bytes, None]:
        """Speak text as it arrives (LLM tokens): one stream per utterance on a voice that takes one
        (ElevenLabs: one stream-input socket; Cartesia: one context), a clause at a time on the
        others (Piper). Failover as in ``synthesize``: the next voice is given the utterance from
        the first word the dead one had not begun, then the text still to come."""
        feed = TextFeed(pieces)
        try:
            async for pcm in self._stream_voices(feed, prosody, policy):
                yield pcm
        finally:
            await feed.aclose()

    async def _stream_voices(
        self, feed: TextFeed, prosody: Prosody, policy: Policy | None
    ) -> AsyncGenerator[bytes, None]:
        errors: list[str] = []
        self.last_parts = []
        start = 0  # where in the utterance's text the voice now speaking began
        for engine in self.plan(policy):
            entry = None if engine is self.fallback else self._entry(engine)
            if not await feed.ready(start):
                return  # nothing (more) to say
            if entry is not None:
                assert entry.breaker is not None
                if not entry.breaker.allow():
                    continue
            spoken = 0.0
            verdict = False
            timed: list[WordTime] = []
            if hasattr(engine, "synthesize_stream"):
                extra = {"words": timed} if getattr(engine, "word_times", False) else {}
                source = engine.synthesize_stream(feed.read(start), prosody=prosody, **extra)
            else:
                source = clause_by_clause(engine, feed.read(start), prosody)
            began = start
            try:
                speaking = self._speak(engine, entry, feed.text[start:], prosody, timed, source=source)
                async with contextlib.aclosing(speaking) as parts:
                    async for pcm, seconds in parts:
                        spoken = seconds
                        yield pcm
                verdict = True
            except _EngineFailed as failure:
                verdict = True
                failed = self._voice_failed(engine, entry, failure, errors)
                if spoken > 0:
                    said = feed.text[start:]
                    first = _first_unheard(said.split(), spoken, failed.seconds_per_char, timed)
                    start += _word_offset(said, first)
                continue
            finally:
                if self.last_parts and self.last_parts[-1][0] == engine.name:
                    self.last_parts[-1] = (engine.name, feed.text[began:])
                if not verdict and entry is not None and entry.breaker is not None:
                    entry.breaker.release()  # interrupted: no verdict, the next caller may try
            if entry is not None:
                assert entry.breaker is not None
                entry.breaker.record_success()
            return
        raise TTSError("no TTS engine could speak: " + "; ".join(errors))  # pragma: no cover - fallback last

    async def _speak(
        self,
        engine: TTSEngine,
        entry: RoutedEngine | None,
        text: str,
        prosody: Prosody,
        timed: list[WordTime] | None = None,
        source: AsyncGenerator[bytes, None] | None = None,
    ) -> AsyncGenerator[tuple[bytes, float], None]:
        """``engine``'s PCM at the router rate, with the seconds delivered; failures as _EngineFailed.
        A voice that times its words fills ``timed``. ``source``: the engine's stream of text as it
        arrives (``synthesize_stream``), ``text`` then being what had arrived when it started."""
        last_resort = entry is None
        started_at = self.clock.now()
        stream = source if source is not None else self._engine_stream(engine, text, prosody, timed)
        learnt = "" if source is not None else text  # a stream's text is not all known yet: ttfa only
        convert = _Converter(engine.sample_rate, self.sample_rate)
        delivered = 0
        try:
            try:
                timeout = None if last_resort else self.first_audio_timeout
                first = await self.clock.wait_for(self._first_chunk(engine, stream), timeout)
            except (StopAsyncIteration, TimeoutError, Exception) as exc:
                if _being_cancelled():
                    raise  # a barge-in, not the engine's failure
                raise _EngineFailed(_describe(exc, self.first_audio_timeout), _label(exc)) from exc
            ttfa = self.clock.now() - started_at
            report("tts", engine.name, latency_ms=ttfa * 1000.0)
            self.last_engine = engine.name
            self.last_parts.append((engine.name, text))
            try:
                chunk: bytes | None = first
                while chunk is not None:
                    delivered += len(chunk)
                    out = convert(chunk)
                    if out:  # the resampler holds back a few samples at first: never an empty chunk
                        yield out, delivered / 2 / engine.sample_rate
                    chunk = await anext(stream, None)
                tail = convert.flush()
                if tail:
                    yield tail, delivered / 2 / engine.sample_rate
            except Exception as exc:
                if _being_cancelled():
                    raise
                reason = f"failed mid-utterance: {type(exc).__name__}: {exc}"
                raise _EngineFailed(reason, _label(exc)) from exc
            if entry is not None:
                self._learn(
                    entry,
                    ttfa,
                    plain_text(learnt) if _is_ssml(learnt) else learnt,
                    delivered / 2 / engine.sample_rate,
                )
        finally:
            await _close(stream)

    async def _engine_stream(
        self, engine: TTSEngine, text: str, prosody: Prosody, timed: list[WordTime] | None = None
    ) -> AsyncGenerator[bytes, None]:
        """SSML as is for engines that read it, rendered (speech and silences) for the others."""
        if not _is_ssml(text) or engine.supports_ssml:
            if timed is not None and getattr(engine, "word_times", False) and not _is_ssml(text):
                synthesize = engine.synthesize(text, prosody=prosody, words=timed)  # type: ignore[call-arg]
            else:
                synthesize = engine.synthesize(text, prosody=prosody)
            async with contextlib.aclosing(synthesize) as chunks:
                async for chunk in chunks:
                    yield chunk
            return
        for seg in render(text, prosody):
            if isinstance(seg, Pause):
                yield silence(seg.seconds, engine.sample_rate)
                continue
            async with contextlib.aclosing(engine.synthesize(seg.text, prosody=seg.prosody)) as chunks:
                async for chunk in chunks:
                    yield chunk

    async def _first_chunk(self, engine: TTSEngine, stream: AsyncGenerator[bytes, None]) -> bytes:
        await self._start_engine(engine)
        return await anext(stream)


class _EngineFailed(Exception):
    def __init__(self, reason: str, error: str) -> None:
        super().__init__(reason)
        self.reason = reason
        #: the metrics label: the failure's class, ``timeout`` or ``no_audio``
        self.error = error


def _label(exc: BaseException) -> str:
    if isinstance(exc, StopAsyncIteration):
        return "no_audio"
    if isinstance(exc, TimeoutError):
        return "timeout"
    return type(exc).__name__


def _being_cancelled() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _is_ssml(text: str) -> bool:
    return text.lstrip().startswith("<speak")


def _words_of(text: str) -> list[str]:
    return (plain_text(text) if _is_ssml(text) else text).split()


def _rest_after(
    words: list[str], spoken: float, seconds_per_char: float, timed: Sequence[WordTime] = ()
) -> str:
    """The words not yet begun after ``spoken`` seconds of audio (see ``_first_unheard``)."""
    return " ".join(words[_first_unheard(words, spoken, seconds_per_char, timed) :])


def _first_unheard(
    words: list[str], spoken: float, seconds_per_char: float, timed: Sequence[WordTime] = ()
) -> int:
    """Index of the first word not yet begun after ``spoken`` seconds of audio: by the voice's own
    word times (``timed``, one per word of the text, in order) as far as they go, then by estimate
    (each word costs its letters and a space). ``len(words)``: every word was begun."""
    at, first = 0.0, 0
    for i, word in enumerate(timed[: len(words)]):
        if word.start >= spoken:
            return i
        at, first = word.end, i + 1
    for i in range(first, len(words)):
        if at >= spoken:
            return i
        at += (len(words[i]) + 1) * seconds_per_char
    return len(words)


def _word_offset(text: str, index: int) -> int:
    """Where the ``index``-th word of ``text`` begins (``len(text)`` past the last)."""
    found = list(re.finditer(r"\S+", text))
    return found[index].start() if index < len(found) else len(text)


def _describe(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, StopAsyncIteration):
        return "produced no audio"
    if isinstance(exc, TimeoutError):
        return f"no first audio within {timeout:g}s"
    return f"{type(exc).__name__}: {exc}"


async def _close(stream: AsyncGenerator[bytes, None]) -> None:
    try:
        await stream.aclose()
    except Exception:
        log.debug("closing a tts stream failed", exc_info=True)


class _Converter:
    """Streams an engine's PCM16 to the router's rate (identity when the rates match)."""

    def __init__(self, in_rate: int, out_rate: int) -> None:
        self._stream = None
        if in_rate != out_rate:
            import soxr

            self._stream = soxr.ResampleStream(in_rate, out_rate, 1, dtype="int16")

    def __call__(self, pcm16: bytes) -> bytes:
        if self._stream is None:
            return pcm16
        out = self._stream.resample_chunk(np.frombuffer(pcm16, dtype=np.int16))
        return bytes(out.tobytes())

    def flush(self) -> bytes:
        if self._stream is None:
            return b""
        out = self._stream.resample_chunk(np.zeros(0, dtype=np.int16), last=True)
        return bytes(out.tobytes())
