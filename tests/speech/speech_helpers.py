"""Shared pieces of the speech tests: real engines kept small, waiting on worker threads."""

from __future__ import annotations

import asyncio
import functools
import math
import threading
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Coroutine
from typing import Any, TypeVar

import numpy as np

from voiceflow.core.clock import Clock
from voiceflow.services.stt.engine import Encoding, FinalText, InterimText, STTEvent, STTFailure
from voiceflow.services.stt.pocketsphinx import PocketsphinxEngine, PocketsphinxStream
from voiceflow.services.tts import NEUTRAL, Prosody, TTSError
from voiceflow.sim.recognize import recognize
from voiceflow.sim.speech import synthesize

T = TypeVar("T")

CALIBRATION = (
    "hello i am calling about the bill i got last month",
    "could you tell me when the next payment is due",
)


def run_in_own_loop(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine on a fresh loop in its own thread (callable from sync code and from a test
    already on a loop): session fixtures must not depend on a test's event loop."""
    out: list[T] = []
    worker = threading.Thread(target=lambda: out.append(asyncio.run(make())))
    worker.start()
    worker.join()
    if not out:
        raise RuntimeError("the coroutine failed (see the thread's traceback above)")
    return out[0]


@functools.cache
def wideband_cmn() -> str:
    """The channel mean of 16 kHz Piper speech, learnt from two sentences no test scores.

    Tests start fresh engines from it, so each test is independent of the others' audio.
    """
    engine = PocketsphinxEngine(hints=None)

    async def calibrate() -> None:
        stream = await engine.open_stream()
        try:
            for text in CALIBRATION:
                await recognize(stream, synthesize(text, 16000))
        finally:
            await stream.aclose()

    run_in_own_loop(calibrate)
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
    """The real pocketsphinx engine, remembering the streams it hands out (to inspect counters)."""

    def __init__(self, inner: PocketsphinxEngine | None = None) -> None:
        self.inner = inner or calibrated_engine()
        self.name = self.inner.name
        self.encodings = self.inner.encodings
        self.streams: list[PocketsphinxStream] = []

    async def start(self, clock: Clock) -> None:
        await self.inner.start(clock)

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def open_stream(
        self,
        *,
        sample_rate: int = 16000,
        encoding: Encoding = "linear16",
        language: str = "en",
        hints: tuple[str, ...] = (),
    ) -> PocketsphinxStream:
        stream = await self.inner.open_stream(
            sample_rate=sample_rate, encoding=encoding, language=language, hints=hints
        )
        self.streams.append(stream)
        return stream


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


class FaultyEngine(RecordingEngine):
    """The real pocketsphinx engine whose streams misbehave on purpose, as a cloud stream can:
    ``failure`` is reported (an ``STTFailure`` event) just before the first interim, and with
    ``hold_finals`` the answers to ``finalize`` are held back until ``release()``."""

    def __init__(self, *, failure: str | None = None, hold_finals: bool = False) -> None:
        super().__init__()
        self.failure = failure
        self.hold_finals = hold_finals
        self.released = asyncio.Event()
        self.held = 0

    def release(self) -> None:
        self.released.set()

    async def open_stream(  # type: ignore[override]
        self,
        *,
        sample_rate: int = 16000,
        encoding: Encoding = "linear16",
        language: str = "en",
        hints: tuple[str, ...] = (),
    ) -> _FaultyStream:
        inner = await super().open_stream(
            sample_rate=sample_rate, encoding=encoding, language=language, hints=hints
        )
        return _FaultyStream(self, inner)


class _FaultyStream:
    def __init__(self, engine: FaultyEngine, inner: PocketsphinxStream) -> None:
        self.engine = engine
        self.inner = inner

    async def send(self, audio: bytes) -> None:
        await self.inner.send(audio)

    async def finalize(self) -> None:
        await self.inner.finalize()

    async def aclose(self) -> None:
        await self.inner.aclose()

    def events(self) -> AsyncIterator[STTEvent]:
        return self._events()

    async def _events(self) -> AsyncIterator[STTEvent]:
        failure = self.engine.failure
        async for event in self.inner.events():
            if failure is not None and isinstance(event, InterimText):
                yield STTFailure(failure, recoverable=True)
                failure = None
            if self.engine.hold_finals and isinstance(event, FinalText) and event.from_finalize:
                self.engine.held += 1
                await self.engine.released.wait()
            yield event
