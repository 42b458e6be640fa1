"""TTSRouter: one TTSEngine in front of several, chosen per utterance by policy, with health.

Policies: ``quality`` (best voice first), ``speed`` (fastest first audio first),
``cost`` (cheapest first) and ``auto`` (a weighted blend). An engine that raises
or gives no first audio within ``first_audio_timeout`` is skipped for ``cooldown``
seconds of the router's clock (the run clock, adopted in ``start``). The fallback
engine (Piper by default) is always tried last, whatever its health, so the agent
can always speak. Engines at another rate are resampled (soxr) to the router's
rate, which is the fallback's.

The router owns its engines: ``start`` starts them all (a routed engine that fails
to start cools down and is started again when next tried), ``aclose`` closes them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from voiceflow.core.clock import Clock, MonotonicClock
from voiceflow.services.tts.engine import TTSEngine, TTSError
from voiceflow.services.tts.prosody import NEUTRAL, Prosody

log = logging.getLogger("voiceflow.tts.router")

Policy = Literal["auto", "quality", "speed", "cost"]
POLICIES: tuple[Policy, ...] = ("auto", "quality", "speed", "cost")


@dataclass(slots=True)
class RoutedEngine:
    """An engine with its declared scores (0..1; ``cost`` is relative price, lower is cheaper)."""

    engine: TTSEngine
    quality: float = 0.5
    speed: float = 0.5
    cost: float = 0.0
    #: router-clock time before which the engine is skipped (after a failure)
    down_until: float = field(default=float("-inf"))
    failures: int = 0


class TTSRouter:
    name = "router"
    supports_ssml = False

    def __init__(
        self,
        engines: Sequence[RoutedEngine],
        *,
        fallback: TTSEngine | None = None,
        policy: Policy = "auto",
        first_audio_timeout: float = 2.0,
        cooldown: float = 30.0,
        auto_weights: tuple[float, float, float] = (0.4, 0.4, 0.2),
        clock: Clock | None = None,
    ) -> None:
        if policy not in POLICIES:
            raise ValueError(f"unknown TTS policy {policy!r}; choose from {POLICIES}")
        if fallback is None:
            from voiceflow.services.tts.piper import PiperEngine

            fallback = PiperEngine()
        self.engines = list(engines)
        self.fallback = fallback
        self.policy: Policy = policy
        self.first_audio_timeout = first_audio_timeout
        self.cooldown = cooldown
        self.auto_weights = auto_weights
        self._clock_given = clock is not None
        #: health and cool-downs are on this clock: the run's (adopted in ``start``) unless given here
        self.clock: Clock = clock if clock is not None else MonotonicClock()
        #: name of the engine that spoke the last utterance
        self.last_engine: str | None = None
        self._started = False
        self._running: set[int] = set()  # ids of the engines started (and not closed since)

    @property
    def sample_rate(self) -> int:
        return self.fallback.sample_rate

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self, clock: Clock) -> None:
        """Adopt ``clock`` (unless one was given) and start every engine; a no-op once started.

        The fallback must start (it is the last resort): its failure raises TTSError. A routed
        engine that fails to start is put on cool-down and started again when next tried.
        """
        if self._started:
            return
        if not self._clock_given:
            self.clock = clock
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
                self._mark_down(entry.engine, f"failed to start: {type(result).__name__}: {result}")
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

    def ranked(self, policy: Policy | None = None) -> list[RoutedEngine]:
        """Engines in the order ``policy`` would try them (healthy or not)."""
        policy = policy or self.policy
        wq, ws, wc = self.auto_weights
        keys = {
            "quality": lambda e: (-e.quality, -e.speed, e.cost),
            "speed": lambda e: (-e.speed, -e.quality, e.cost),
            "cost": lambda e: (e.cost, -e.quality, -e.speed),
            "auto": lambda e: (-(wq * e.quality + ws * e.speed - wc * e.cost),),
        }
        if policy not in keys:
            raise ValueError(f"unknown TTS policy {policy!r}; choose from {POLICIES}")
        return sorted(self.engines, key=keys[policy])

    def healthy(self, entry: RoutedEngine) -> bool:
        return self.clock.now() >= entry.down_until

    def plan(self, policy: Policy | None = None) -> list[TTSEngine]:
        """The engines the next utterance will try, in order (fallback last)."""
        chosen = [e.engine for e in self.ranked(policy) if self.healthy(e) and e.engine is not self.fallback]
        return [*chosen, self.fallback]

    def _mark_down(self, engine: TTSEngine, reason: str) -> None:
        for entry in self.engines:
            if entry.engine is engine:
                entry.failures += 1
                entry.down_until = self.clock.now() + self.cooldown
        log.warning("tts engine %s skipped for %.0fs: %s", engine.name, self.cooldown, reason)

    async def synthesize(
        self, text: str, *, prosody: Prosody = NEUTRAL, policy: Policy | None = None
    ) -> AsyncGenerator[bytes, None]:
        if not text.strip():  # bad input, not an engine failure: nothing is put on cool-down
            raise TTSError("nothing to synthesize (empty text)")
        errors: list[str] = []
        for engine in self.plan(policy):
            last_resort = engine is self.fallback
            stream = engine.synthesize(text, prosody=prosody)
            try:
                timeout = None if last_resort else self.first_audio_timeout
                # an engine not started yet (or cooled down after a failed start) starts within
                # its first-audio budget
                first = await self.clock.wait_for(self._first_chunk(engine, stream), timeout)
            except (StopAsyncIteration, TimeoutError, Exception) as exc:
                await _close(stream)
                reason = _describe(exc, self.first_audio_timeout)
                errors.append(f"{engine.name}: {reason}")
                if not last_resort:
                    self._mark_down(engine, reason)
                    continue
                raise TTSError("no TTS engine could speak: " + "; ".join(errors)) from exc
            self.last_engine = engine.name
            convert = _Converter(engine.sample_rate, self.sample_rate)
            try:
                # the resampler holds back a few samples at first: never hand out an empty chunk
                out = convert(first)
                if out:
                    yield out
                async for chunk in stream:
                    out = convert(chunk)
                    if out:
                        yield out
                tail = convert.flush()
                if tail:
                    yield tail
            except Exception as exc:
                if not last_resort:
                    self._mark_down(engine, f"failed mid-utterance: {exc}")
                if isinstance(exc, TTSError):
                    raise
                raise TTSError(f"{engine.name} failed mid-utterance: {type(exc).__name__}: {exc}") from exc
            finally:
                await _close(stream)
            return

    async def _first_chunk(self, engine: TTSEngine, stream: AsyncGenerator[bytes, None]) -> bytes:
        await self._start_engine(engine)
        return await anext(stream)


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
