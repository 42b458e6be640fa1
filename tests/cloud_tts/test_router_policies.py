"""Router policies decide per utterance from live measurements: time to first audio, prices, health."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from tests.speech.speech_helpers import ToneEngine
from voiceflow.graphs import VirtualClock
from voiceflow.services.tts import NEUTRAL, Prosody, RoutedEngine, SSMLBuilder, TTSRouter
from voiceflow.services.tts.piper import PiperEngine


class Delayed(ToneEngine):
    """The tone engine with a first-audio delay on the router's virtual clock."""

    def __init__(self, name: str, clock: VirtualClock, delay: float) -> None:
        super().__init__()
        self.name = name
        self.delay_clock = clock
        self.delay = delay
        self.texts: list[str] = []

    async def synthesize(self, text: str, *, prosody: Prosody = NEUTRAL) -> AsyncGenerator[bytes, None]:
        self.texts.append(text)
        await self.delay_clock.sleep(self.delay)
        async for chunk in super().synthesize(text, prosody=prosody):
            yield chunk


async def _speak(router: TTSRouter, text: str, clock: VirtualClock) -> None:
    import asyncio

    task = asyncio.create_task(_collect(router, text))
    while not task.done():
        await clock.advance(0.05)
    await task


async def _collect(router: TTSRouter, text: str) -> bytes:
    return b"".join([c async for c in router.synthesize(text)])


def _names(router: TTSRouter, policy: str) -> list[str]:
    return [e.name for e in router.plan(policy)]  # type: ignore[arg-type]


async def test_speed_and_auto_follow_the_measured_first_audio() -> None:
    clock = VirtualClock()
    # declared: "cartesia" fast; measured: it is the slow one today
    eleven = Delayed("elevenlabs", clock, 0.1)
    sonic = Delayed("cartesia", clock, 0.8)
    router = TTSRouter(
        [RoutedEngine(eleven, quality=0.9, speed=0.5, cost=0.3), RoutedEngine(sonic, quality=0.7, speed=0.9)],
        fallback=PiperEngine(),
        policy="speed",
        clock=clock,
    )
    assert _names(router, "speed")[0] == "cartesia" and _names(router, "quality")[0] == "elevenlabs"
    await _speak(router, "Measuring the fast one first.", clock)
    router.policy = "quality"
    await _speak(router, "And now the other voice.", clock)
    assert router.engines[1].ttfa is not None and router.engines[1].ttfa >= 0.75
    assert router.engines[0].ttfa is not None and router.engines[0].ttfa < 0.2
    assert _names(router, "speed")[:2] == ["elevenlabs", "cartesia"]
    assert _names(router, "auto")[0] == "elevenlabs"


async def test_cost_policy_takes_the_cheapest_per_character_and_piper_stays_last() -> None:
    clock = VirtualClock()
    router = TTSRouter(
        [
            RoutedEngine(Delayed("elevenlabs", clock, 0), quality=0.95, cost=0.30),
            RoutedEngine(Delayed("cartesia", clock, 0), quality=0.8, cost=0.065),
        ],
        fallback=PiperEngine(),
        policy="cost",
        clock=clock,
    )
    assert _names(router, "cost") == ["cartesia", "elevenlabs", "piper"]


async def test_auto_counts_recent_failures_against_an_engine() -> None:
    clock = VirtualClock()
    a, b = RoutedEngine(Delayed("a", clock, 0), quality=0.8, speed=0.8), RoutedEngine(Delayed("b", clock, 0))
    router = TTSRouter([a, b], fallback=PiperEngine(), failure_threshold=3, clock=clock)
    assert _names(router, "auto")[0] == "a"
    assert a.breaker is not None
    a.breaker.record_failure("timeout")
    a.breaker.record_failure("timeout")
    assert _names(router, "auto")[0] == "b"  # still closed, but two failures in a row cost it the lead


async def test_ssml_goes_as_is_to_engines_that_read_it_and_rendered_for_others() -> None:
    clock = VirtualClock()
    tone = Delayed("tone", clock, 0)
    router = TTSRouter(
        [RoutedEngine(tone, quality=0.9)], fallback=PiperEngine(), policy="quality", clock=clock
    )
    b = SSMLBuilder()
    b.text("Order ").say_as("12", "digits").pause(500).text("shipped.")
    audio = await _collect(router, b.to_string())
    assert tone.texts == ["Order one two", "shipped."]  # the pause became silence between the two
    assert len(audio) / 2 / 22050 > 0.5
