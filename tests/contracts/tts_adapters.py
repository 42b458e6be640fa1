"""The TTS adapters the contract runs against: one ``TTSAdapter`` entry each in ``TTS_ADAPTERS``.

An entry opens a ``TTSHarness``: the engine (not started: starting is part of the
contract) plus two probes on the backend doing the work, so the contract can see
that closing a stream really stopped synthesis. A cloud adapter's entry starts its
fake server in ``open`` and reads the probes from what the fake streamed::

    TTS_ADAPTERS.append(TTSAdapter("elevenlabs", open_elevenlabs))

Every harness engine must be deterministic (the same text gives the same PCM), which
the concurrency check relies on: Piper runs with its noise scales at zero, fakes
send fixed audio.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass

from tests.speech.speech_helpers import FailingEngine, ToneEngine
from voiceflow.services.tts import NEUTRAL, Prosody, RoutedEngine, TTSEngine, TTSRouter
from voiceflow.services.tts.cartesia import CartesiaEngine
from voiceflow.services.tts.elevenlabs import ElevenLabsEngine
from voiceflow.services.tts.piper import PiperEngine
from voiceflow.testing.fakes.cartesia_server import FakeCartesiaServer
from voiceflow.testing.fakes.elevenlabs_server import FakeElevenLabsServer


@dataclass
class TTSHarness:
    engine: TTSEngine
    #: units of synthesis the backend has produced so far (Piper: sentence chunks; a fake: chunks sent)
    work: Callable[[], int]
    #: whether any synthesis is still running in the backend (a worker thread, a fake's stream)
    busy: Callable[[], bool]


@dataclass(frozen=True)
class TTSAdapter:
    id: str
    open: Callable[[], AbstractAsyncContextManager[TTSHarness]]


class _Meter:
    """Thread-safe work and in-flight counters shared by an engine's worker threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.produced = 0
        self.active = 0

    def begin(self) -> None:
        with self._lock:
            self.active += 1

    def tick(self) -> None:
        with self._lock:
            self.produced += 1

    def end(self) -> None:
        with self._lock:
            self.active -= 1


class MeteredPiper(PiperEngine):
    """The real Piper engine (deterministic: no noise), metering its worker threads."""

    def __init__(self) -> None:
        super().__init__(noise_scale=0.0, noise_w_scale=0.0)
        self.meter = _Meter()

    def synthesize_blocking(
        self, text: str, prosody: Prosody = NEUTRAL, should_stop: Callable[[], bool] = lambda: False
    ) -> Iterator[bytes]:
        self.meter.begin()
        try:
            for pcm in super().synthesize_blocking(text, prosody, should_stop):
                self.meter.tick()
                yield pcm
        finally:
            self.meter.end()


class MeteredTone(ToneEngine):
    """The 16 kHz tone engine, metering the chunks it generates (the router resamples it)."""

    def __init__(self) -> None:
        super().__init__()
        self.meter = _Meter()

    async def synthesize(self, text: str, *, prosody: Prosody = NEUTRAL) -> AsyncGenerator[bytes, None]:
        self.meter.begin()
        try:
            async for chunk in super().synthesize(text, prosody=prosody):
                self.meter.tick()
                yield chunk
        finally:
            self.meter.end()


def _probes(meter: _Meter) -> tuple[Callable[[], int], Callable[[], bool]]:
    return (lambda: meter.produced), (lambda: meter.active > 0)


@asynccontextmanager
async def open_piper() -> AsyncIterator[TTSHarness]:
    engine = MeteredPiper()
    yield TTSHarness(engine, *_probes(engine.meter))


@asynccontextmanager
async def open_router_failover() -> AsyncIterator[TTSHarness]:
    """A router whose preferred engine is down: every utterance fails over to Piper."""
    piper = MeteredPiper()
    router = TTSRouter([RoutedEngine(FailingEngine(), quality=0.9)], fallback=piper, policy="quality")
    yield TTSHarness(router, *_probes(piper.meter))


@asynccontextmanager
async def open_router_resampling() -> AsyncIterator[TTSHarness]:
    """A router speaking with a 16 kHz engine, resampled to the Piper fallback's 22.05 kHz."""
    tone = MeteredTone()
    router = TTSRouter([RoutedEngine(tone, speed=0.9)], fallback=MeteredPiper(), policy="speed")
    yield TTSHarness(router, *_probes(tone.meter))


def _open_elevenlabs(output_format: str) -> Callable[[], AbstractAsyncContextManager[TTSHarness]]:
    @asynccontextmanager
    async def open_elevenlabs() -> AsyncIterator[TTSHarness]:
        async with FakeElevenLabsServer() as fake:
            engine = ElevenLabsEngine(fake.api_key, base_url=fake.http_url, output_format=output_format)
            yield TTSHarness(engine, fake.work, fake.busy)

    return open_elevenlabs


def _open_cartesia(encoding: str, rate: int) -> Callable[[], AbstractAsyncContextManager[TTSHarness]]:
    @asynccontextmanager
    async def open_cartesia() -> AsyncIterator[TTSHarness]:
        async with FakeCartesiaServer() as fake:
            engine = CartesiaEngine(fake.api_key, base_url=fake.http_url, encoding=encoding, sample_rate=rate)
            try:
                yield TTSHarness(engine, fake.work, fake.busy)
            finally:
                await engine.aclose()

    return open_cartesia


TTS_ADAPTERS: list[TTSAdapter] = [
    TTSAdapter("piper", open_piper),
    TTSAdapter("router-failover", open_router_failover),
    TTSAdapter("router-resampling", open_router_resampling),
    TTSAdapter("elevenlabs-pcm16k", _open_elevenlabs("pcm_16000")),
    TTSAdapter("elevenlabs-ulaw8k", _open_elevenlabs("ulaw_8000")),
    TTSAdapter("cartesia-pcm16k", _open_cartesia("pcm_s16le", 16000)),
    TTSAdapter("cartesia-mulaw8k", _open_cartesia("pcm_mulaw", 8000)),
]
