"""Shared pieces of the speech tests: real engines kept small, waiting on worker threads."""

from __future__ import annotations

import asyncio
import functools
import math
import time
from collections.abc import AsyncGenerator, Callable

import numpy as np

from voiceflow.core.clock import Clock
from voiceflow.services.stt.pocketsphinx import PocketsphinxEngine, PocketsphinxSession
from voiceflow.services.tts import NEUTRAL, Prosody, TTSError
from voiceflow.sim.speech import synthesize

CALIBRATION = (
    "hello i am calling about the bill i got last month",
    "could you tell me when the next payment is due",
)


@functools.cache
def wideband_cmn() -> str:
    """The channel mean of 16 kHz Piper speech, learnt from two sentences no test scores.

    Tests start fresh engines from it, so each test is independent of the others' audio.
    """
    engine = PocketsphinxEngine(hints=None)
    session = engine.open_session()
    try:
        for text in CALIBRATION:
            session.feed(synthesize(text, 16000))
            session.finish()
    finally:
        session.close()
    assert engine.channel_cmn is not None
    return engine.channel_cmn


def calibrated_engine(**options: object) -> PocketsphinxEngine:
    return PocketsphinxEngine(initial_cmn=wideband_cmn(), **options)  # type: ignore[arg-type]


async def wait_until(cond: Callable[[], bool], timeout: float = 60.0) -> None:
    """Wait (real time) for work done in model threads; a bound so a hang fails, not blocks."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


class RecordingEngine:
    """The real pocketsphinx engine, remembering the sessions it hands out (to inspect counters)."""

    def __init__(self, inner: PocketsphinxEngine | None = None) -> None:
        self.inner = inner or calibrated_engine()
        self.name = self.inner.name
        self.sample_rate = self.inner.sample_rate
        self.sessions: list[PocketsphinxSession] = []

    def open_session(self) -> PocketsphinxSession:
        session = self.inner.open_session()
        self.sessions.append(session)
        return session


class Lifecycle:
    """Counts ``start`` / ``aclose`` calls (the test engines' lifecycle; ``start_error`` fails it)."""

    def __init__(self) -> None:
        self.starts = 0
        self.acloses = 0
        self.start_error: Exception | None = None
        self.clock: Clock | None = None

    async def start(self, clock: Clock) -> None:
        self.starts += 1
        if self.start_error is not None:
            raise self.start_error
        self.clock = clock

    async def aclose(self) -> None:
        self.acloses += 1


class ToneEngine(Lifecycle):
    """A real (if tuneless) TTS engine: a 440 Hz tone, 60 ms per character, at 16 kHz."""

    name = "tone"
    supports_ssml = False
    sample_rate = 16000

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    async def synthesize(self, text: str, *, prosody: Prosody = NEUTRAL) -> AsyncGenerator[bytes, None]:
        if not text.strip():
            raise TTSError("nothing to synthesize")
        self.calls += 1
        n = int(0.06 * len(text) * self.sample_rate / prosody.rate)
        t = np.arange(n) / self.sample_rate
        wave = (0.3 * prosody.volume * np.sin(2 * math.pi * 440 * t) * 32767).astype("<i2")
        for i in range(0, n, 1600):
            yield wave[i : i + 1600].tobytes()
            await asyncio.sleep(0)


class FailingEngine(Lifecycle):
    """An engine whose backend is down: every request raises."""

    name = "failing"
    supports_ssml = False
    sample_rate = 24000

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    async def synthesize(self, text: str, *, prosody: Prosody = NEUTRAL) -> AsyncGenerator[bytes, None]:
        self.calls += 1
        raise TTSError("backend unavailable (503)")
        yield b""  # pragma: no cover - makes this an async generator


class StalledEngine(Lifecycle):
    """An engine that accepts the request and then says nothing (waits on its clock)."""

    name = "stalled"
    supports_ssml = False
    sample_rate = 16000

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self.waits_on = clock
        self.calls = 0
        self.closed = 0

    async def synthesize(self, text: str, *, prosody: Prosody = NEUTRAL) -> AsyncGenerator[bytes, None]:
        self.calls += 1
        try:
            await self.waits_on.sleep(3600)
            yield bytes(320)
        finally:
            self.closed += 1
