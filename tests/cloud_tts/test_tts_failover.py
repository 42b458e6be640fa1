"""The TTS failover matrix: ElevenLabs down at start, dying mid-utterance, too slow, returning garbage;
Cartesia behind it, Piper last. The caller always hears the whole utterance, nothing twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from prometheus_client.parser import text_string_to_metric_families

from voiceflow.calls import CallContext, CallSession
from voiceflow.core.clock import MonotonicClock
from voiceflow.frames import Metrics, TextToSpeak
from voiceflow.graphs import Collector, Graph, GraphRun, VirtualClock
from voiceflow.observability.metrics import CallMetrics, render
from voiceflow.processors.tts import TTSProcessor
from voiceflow.services.breaker import BreakerState, breaker_states
from voiceflow.services.tts import RoutedEngine, TTSRouter
from voiceflow.services.tts.cartesia import CartesiaEngine
from voiceflow.services.tts.elevenlabs import ElevenLabsEngine
from voiceflow.services.tts.engine import WordTime
from voiceflow.services.tts.piper import PiperEngine
from voiceflow.services.tts.router import _rest_after
from voiceflow.testing.fakes import tts_audio
from voiceflow.testing.fakes.cartesia_server import FakeCartesiaServer
from voiceflow.testing.fakes.elevenlabs_server import FakeElevenLabsServer

TEXT = (
    "Thanks for waiting while I looked that up. Your order shipped on Monday from our warehouse, "
    "and it should arrive by Thursday afternoon."
)


@dataclass
class Voices:
    eleven: FakeElevenLabsServer
    cartesia: FakeCartesiaServer
    router: TTSRouter
    clock: VirtualClock


@pytest.fixture
async def voices() -> AsyncIterator[Voices]:
    clock = VirtualClock()
    async with FakeElevenLabsServer() as eleven, FakeCartesiaServer() as cartesia:
        router = TTSRouter(
            [
                RoutedEngine(
                    ElevenLabsEngine(eleven.api_key, base_url=eleven.http_url), quality=0.95, cost=0.3
                ),
                RoutedEngine(
                    CartesiaEngine(cartesia.api_key, base_url=cartesia.http_url), quality=0.8, cost=0.05
                ),
            ],
            fallback=PiperEngine(),
            policy="quality",
            clock=clock,
        )
        await router.start(clock)
        try:
            yield Voices(eleven, cartesia, router, clock)
        finally:
            await router.aclose()


async def _speak(router: TTSRouter, text: str = TEXT) -> bytes:
    return b"".join([c async for c in router.synthesize(text)])


def _cartesia_text(v: Voices) -> str:
    return " ".join(c.transcript.strip() for c in v.cartesia.contexts.values())


async def test_healthy_quality_policy_speaks_with_elevenlabs(voices: Voices) -> None:
    assert await _speak(voices.router)
    assert voices.router.last_engine == "elevenlabs" and not voices.cartesia.contexts


async def test_down_at_start_fails_over_and_the_breaker_lets_one_trial_after_30s(voices: Voices) -> None:
    voices.eleven.faults.error = "quota_exceeded"
    assert await _speak(voices.router)
    assert voices.router.last_engine == "cartesia" and _cartesia_text(voices) == TEXT
    breaker = voices.router.engines[0].breaker
    assert breaker is not None and breaker.state is BreakerState.OPEN
    assert breaker_states()["tts:elevenlabs"] == 2
    sessions = len(voices.eleven.sessions)
    await _speak(voices.router, "Anything else?")  # open: ElevenLabs is not even asked
    assert len(voices.eleven.sessions) == sessions
    await voices.clock.advance(30.0)
    assert breaker.state is BreakerState.HALF_OPEN and breaker_states()["tts:elevenlabs"] == 1
    voices.eleven.faults.error = None
    voices.eleven.faults.chunk_delay_s = 0.01
    # two callers at once: exactly one is the trial, the other goes straight to Cartesia
    await asyncio.gather(_speak(voices.router, "First caller."), _speak(voices.router, "Second caller."))
    assert len(voices.eleven.sessions) == sessions + 1
    assert "Second caller." in _cartesia_text(voices) or "First caller." in _cartesia_text(voices)
    assert breaker.state is BreakerState.CLOSED


async def test_dying_mid_utterance_the_next_voice_says_the_rest_and_nothing_twice(voices: Voices) -> None:
    voices.eleven.faults.drop_after = 12  # 1.2 s of speech (100 ms chunks), inside the first sentence
    audio = await _speak(voices.router)
    session = voices.eleven.sessions[-1]
    assert session.ended == "dropped"
    parts = voices.router.last_parts
    assert [name for name, _ in parts] == ["elevenlabs", "cartesia"]
    rest = parts[1][1]
    # where the caller stopped hearing ElevenLabs, by the alignment it sent with its audio: the
    # fake times each word of the clause it was speaking over that clause's audio
    clause = session.generated[0]
    spoken_clause = tts_audio.speech(clause, "pcm", 16000)
    words, starts, _ = tts_audio.word_times(clause, len(spoken_clause) / 2 / 16000)
    delivered = 12 * tts_audio.CHUNK_MS / 1000
    first_unheard = next(i for i, start in enumerate(starts) if start >= delivered)
    assert 0 < first_unheard < len(words)  # it died mid-clause, between two words
    # Cartesia starts at exactly that word: nothing heard is said again, no word is skipped
    assert rest == " ".join(TEXT.split()[first_unheard:])
    assert _cartesia_text(voices) == rest
    assert len(audio) / 2 / 22050 > 4.0  # the whole utterance was spoken


async def test_the_resume_point_is_the_voices_word_times_not_an_estimate() -> None:
    """A voice slower than the learnt pace: 1.2 s of it holds fewer words than the estimate
    (0.065 s a character) would skip; its word times put the rest where the caller really is."""
    words = "one two three four five six".split()
    timed = [WordTime(w, 0.5 * i, 0.5 * i + 0.45) for i, w in enumerate(words)]
    assert _rest_after(words, 1.2, 0.065, timed) == "four five six"  # "three" began at 1.0 s
    assert _rest_after(words, 1.2, 0.065) == "five six"  # the estimate alone skips "four" unheard
    # times that lag behind the audio: estimated on from the last timed word
    assert _rest_after(words, 1.2, 0.065, timed[:1]) == "five six"


async def test_garbage_then_everything_cloud_down_piper_speaks(voices: Voices) -> None:
    voices.eleven.faults.garbage = True
    assert await _speak(voices.router)
    assert voices.router.last_engine == "cartesia"
    voices.cartesia.faults.error = "rate_limited"
    await voices.clock.advance(31.0)
    assert await _speak(voices.router, "Still here.")
    assert voices.router.last_engine == "piper"
    assert breaker_states()["tts:cartesia"] == 2


async def test_slower_than_the_deadline_moves_on() -> None:
    async with FakeElevenLabsServer() as eleven, FakeCartesiaServer() as cartesia:
        eleven.faults.first_audio_delay_s = 5.0
        clock = MonotonicClock()
        router = TTSRouter(
            [
                RoutedEngine(ElevenLabsEngine(eleven.api_key, base_url=eleven.http_url), quality=0.95),
                RoutedEngine(CartesiaEngine(cartesia.api_key, base_url=cartesia.http_url), quality=0.8),
            ],
            fallback=PiperEngine(),
            policy="quality",
            first_audio_timeout=1.0,  # Cartesia's fake synthesizes with Piper: room for a loaded machine
        )
        await router.start(clock)
        try:
            assert await _speak(router, "One moment please.")
            assert router.last_engine == "cartesia"
            assert router.engines[0].failures == 1
        finally:
            await router.aclose()


async def test_each_voice_tried_is_counted_in_the_provider_metrics(voices: Voices) -> None:
    """The TTS processor pushes what the router's voices report: ElevenLabs' refusal as an error,
    Cartesia's time to first audio as its latency; Prometheus counts both."""

    def counters() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        families = text_string_to_metric_families(render().decode())
        return {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families for s in f.samples}

    voices.eleven.faults.error = "quota_exceeded"
    before = counters()
    sink = Collector(name="sink")
    run = GraphRun(Graph("g", inputs=[TextToSpeak]).chain(TTSProcessor(voices.router, name="tts"), sink))
    run.add_observer(CallMetrics(CallSession(CallContext("CA-tts-metrics", "local"), run)))
    async with run:
        await run.push(run.make(TextToSpeak, text="Your order shipped on Monday."))
    after = counters()

    def delta(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    reported = [m for m in sink.of(Metrics) if m.processor.startswith("provider/tts/")]  # type: ignore[attr-defined]
    assert [m.processor for m in reported] == ["provider/tts/elevenlabs", "provider/tts/cartesia"]
    error = "TTSProviderError"
    assert delta("voiceflow_provider_errors_total", kind="tts", provider="elevenlabs", error=error) == 1
    assert delta("voiceflow_provider_requests_total", kind="tts", provider="elevenlabs") == 1
    assert delta("voiceflow_provider_latency_seconds_count", kind="tts", provider="cartesia") == 1
    assert delta("voiceflow_provider_latency_seconds_count", kind="tts", provider="elevenlabs") == 0
