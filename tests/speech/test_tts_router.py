"""TTSRouter: policies, failover to Piper, health with cool-down on the run clock."""

from __future__ import annotations

import asyncio

import pytest

from tests.speech.speech_helpers import FailingEngine, StalledEngine, ToneEngine
from voiceflow.frames import TextToSpeak, TTSAudio
from voiceflow.graphs import Collector, Graph, GraphRun, VirtualClock
from voiceflow.processors.tts import TTSProcessor
from voiceflow.services.tts import RoutedEngine, TTSRouter
from voiceflow.services.tts.piper import PiperEngine


def _names(engines: list[RoutedEngine]) -> list[str]:
    return [e.engine.name for e in engines]


class Named(ToneEngine):
    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name


def test_policies_order_engines_by_declared_scores() -> None:
    premium = RoutedEngine(Named("premium"), quality=0.95, speed=0.4, cost=0.9)
    fast = RoutedEngine(Named("fast"), quality=0.6, speed=0.95, cost=0.3)
    cheap = RoutedEngine(Named("cheap"), quality=0.5, speed=0.6, cost=0.05)
    router = TTSRouter([premium, fast, cheap], fallback=PiperEngine())
    assert _names(router.ranked("quality")) == ["premium", "fast", "cheap"]
    assert _names(router.ranked("speed")) == ["fast", "cheap", "premium"]
    assert _names(router.ranked("cost")) == ["cheap", "fast", "premium"]
    # auto: 0.4*quality + 0.4*speed - 0.2*cost -> fast 0.56, cheap 0.43, premium 0.36
    assert _names(router.ranked("auto")) == ["fast", "cheap", "premium"]
    assert [e.name for e in router.plan("cost")] == ["cheap", "fast", "premium", "piper"]
    with pytest.raises(ValueError, match="unknown TTS policy"):
        router.ranked("loudest")  # type: ignore[arg-type]


async def test_failing_engine_falls_over_to_piper_and_cools_down() -> None:
    clock = VirtualClock()
    failing, tone = FailingEngine(), Named("backup-tone")
    router = TTSRouter(
        [RoutedEngine(failing, quality=0.9), RoutedEngine(tone, quality=0.1)],
        fallback=PiperEngine(),
        policy="quality",
        cooldown=30.0,
        clock=clock,
    )
    router.engines[1].breaker.record_failure("down")  # type: ignore[union-attr]  # the tone backup is down too
    audio = b"".join([c async for c in router.synthesize("Your order has shipped.")])
    assert len(audio) > 2 * 22050 * 0.5 and router.last_engine == "piper"
    assert failing.calls == 1 and router.engines[0].failures == 1
    # during the cool-down the failing engine is not even asked
    assert [e.name for e in router.plan()] == ["piper"]
    _ = [c async for c in router.synthesize("Thanks.")]
    assert failing.calls == 1
    # after it, it is tried again
    await clock.advance(31.0)
    assert router.plan()[0].name == "failing"


async def test_stalled_engine_times_out_on_first_audio() -> None:
    clock = VirtualClock()
    stalled = StalledEngine(clock)
    router = TTSRouter(
        [RoutedEngine(stalled, speed=0.99)],
        fallback=PiperEngine(),
        policy="speed",
        first_audio_timeout=1.5,
        clock=clock,
    )

    async def speak() -> bytes:
        return b"".join([c async for c in router.synthesize("One moment please.")])

    task = asyncio.create_task(speak())
    await clock.advance(1.0)
    assert not task.done() and stalled.calls == 1  # still within the first-audio budget
    await clock.advance(0.6)
    audio = await asyncio.wait_for(task, 60)  # Piper (real time) takes over
    assert audio and router.last_engine == "piper"
    assert stalled.closed == 1 and router.engines[0].failures == 1


async def test_healthy_engine_is_used_and_resampled_to_the_router_rate() -> None:
    tone = Named("tone")
    router = TTSRouter([RoutedEngine(tone, speed=0.9)], fallback=PiperEngine(), policy="speed")
    audio = b"".join([c async for c in router.synthesize("ten chars!")])
    assert router.last_engine == "tone" and router.sample_rate == 22050
    expected = 0.06 * 10 * 22050  # 0.6 s of tone at 16 kHz, delivered at 22.05 kHz
    assert abs(len(audio) / 2 - expected) < 0.01 * expected


async def test_router_inside_the_tts_processor_speaks_despite_a_dead_engine() -> None:
    router = TTSRouter([RoutedEngine(FailingEngine(), quality=1.0)], fallback=PiperEngine(), policy="quality")
    sink = Collector(name="sink")
    graph = Graph("tts", inputs=[TextToSpeak]).chain(TTSProcessor(router, name="tts"), sink)
    clock = VirtualClock()
    async with GraphRun(graph, clock=clock) as run:
        assert router.clock is clock  # the processor handed the run clock to the router
        await run.push(run.make(TextToSpeak, text="I can still talk."))
    assert not run.errors
    chunks = sink.of(TTSAudio)
    assert chunks and {c.sample_rate for c in chunks} == {22050}


async def test_router_starts_its_engines_on_the_run_clock_and_closes_them() -> None:
    clock = VirtualClock()
    tone, broken = Named("tone"), FailingEngine()
    broken.start_error = ConnectionError("pool refused")
    piper = PiperEngine()
    router = TTSRouter(
        [RoutedEngine(broken, quality=0.9), RoutedEngine(tone, quality=0.5)],
        fallback=piper,
        policy="quality",
        cooldown=30.0,
    )
    await router.start(clock)
    assert router.clock is clock and tone.clock is clock and tone.starts == 1
    # the engine that could not start is on cool-down: the plan skips it
    assert broken.starts == 1 and router.engines[0].failures == 1
    assert [e.name for e in router.plan()] == ["tone", "piper"]
    await router.start(VirtualClock())  # idempotent: nothing restarts, the first clock stays
    assert router.clock is clock and tone.starts == 1 and broken.starts == 1
    # after the cool-down it is started again when tried; still broken, so tone speaks
    await clock.advance(31.0)
    audio = b"".join([c async for c in router.synthesize("hello")])
    assert audio and router.last_engine == "tone"
    assert broken.starts == 2 and broken.calls == 0 and router.engines[0].failures == 2
    await router.aclose()
    await router.aclose()
    assert tone.acloses == 1 and broken.acloses == 0  # only what started is closed, once
    # a closed router starts again from scratch
    broken.start_error = None
    await router.start(clock)
    assert tone.starts == 2 and broken.starts == 3
    await router.aclose()
