"""STT failover: the recognizer dies mid-utterance and the caller's words still arrive, from the
fallback, which hears the audio since the last final again. Real Piper speech, real pocketsphinx."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tests.speech.speech_helpers import calibrated_engine, wait_until
from voiceflow.graphs import VirtualClock
from voiceflow.services.breaker import BreakerState
from voiceflow.services.failover.stt import FailoverSTT, FailoverSTTStream
from voiceflow.services.stt.engine import Encoding, FinalText, STTEvent, STTFailure, STTStream
from voiceflow.services.stt.pocketsphinx import PocketsphinxEngine
from voiceflow.sim.speech import synthesize

UTTERANCE = "where is my order one zero zero two"


class DyingEngine:
    """Real pocketsphinx whose streams die after ``die_after`` chunks, as a dropped cloud socket does:
    ``send`` raises (``mode="raise"``) or the stream reports an unrecoverable failure (``"report"``)."""

    name = "dying"
    encodings: tuple[Encoding, ...] = ("linear16",)

    def __init__(self, die_after: int | None, mode: str = "raise", down: bool = False) -> None:
        self.inner = calibrated_engine()
        self.die_after = die_after
        self.mode = mode
        self.down = down
        self.opened = 0

    async def start(self, clock: object) -> None:
        await self.inner.start(clock)  # type: ignore[arg-type]

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def open_stream(self, **kw: object) -> STTStream:
        self.opened += 1
        if self.down:
            raise ConnectionError("401 Unauthorized")
        return _Dying(self, await self.inner.open_stream(**kw))  # type: ignore[arg-type]


class _Dying:
    def __init__(self, engine: DyingEngine, inner: STTStream) -> None:
        self.engine, self.inner, self.sent = engine, inner, 0
        self.dead = asyncio.Event()

    async def send(self, audio: bytes) -> None:
        if self.engine.die_after is not None and self.sent >= self.engine.die_after:
            self.dead.set()
            if self.engine.mode == "raise":
                raise ConnectionError("socket dropped")
            return
        self.sent += 1
        await self.inner.send(audio)

    async def finalize(self) -> None:
        await self.inner.finalize()

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def events(self) -> AsyncIterator[STTEvent]:
        if self.engine.mode == "report":
            await self.dead.wait()
            yield STTFailure("provider closed the stream (1011)", recoverable=False)
            return
        async for event in self.inner.events():
            yield event


async def _run(stream: FailoverSTTStream, pcm: bytes, chunk: int) -> tuple[FinalText, list[STTEvent]]:
    events: list[STTEvent] = []

    async def collect() -> FinalText:
        async for event in stream.events():
            events.append(event)
            if isinstance(event, FinalText) and event.from_finalize:
                return event
        raise AssertionError("no final")

    reader = asyncio.create_task(collect())
    for i in range(0, len(pcm), chunk):
        await stream.send(pcm[i : i + chunk])
    await stream.send(bytes(chunk * 10))  # trailing silence
    await stream.finalize()
    final = await asyncio.wait_for(reader, 60)
    return final, events


@pytest.fixture
def speech16k() -> bytes:
    return synthesize(UTTERANCE, 16000)


@pytest.mark.parametrize("mode", ["raise", "report"])
async def test_dying_mid_utterance_the_fallback_hears_the_whole_utterance(
    speech16k: bytes, mode: str
) -> None:
    chunks = len(speech16k) // 640
    dying = DyingEngine(die_after=chunks // 2, mode=mode)
    stt = FailoverSTT([dying, calibrated_engine()])
    await stt.start(VirtualClock())
    stream = await stt.open_stream()
    try:
        final, events = await _run(stream, speech16k, 640)
    finally:
        await stream.aclose()
        await stt.aclose()
    assert stream.used == ["dying", "pocketsphinx"]
    notes = [e for e in events if isinstance(e, STTFailure)]
    assert len(notes) == 1 and notes[0].recoverable and "replaying" in notes[0].message
    heard = final.text.split()
    # words from the first half (spoken to the dead engine) and from the end are both there
    assert "order" in heard and "two" in heard, final.text
    assert stt.breakers[0].state is BreakerState.OPEN


async def test_down_at_start_opens_on_the_fallback_and_phone_audio_is_converted(speech16k: bytes) -> None:
    from voiceflow.sim.speech import to_phone_line

    down = DyingEngine(die_after=None, down=True)
    stt = FailoverSTT([down, calibrated_engine()])
    await stt.start(VirtualClock())
    ulaw = to_phone_line(speech16k, 16000)
    stream = await stt.open_stream(sample_rate=8000, encoding="mulaw")
    try:
        final, _ = await _run(stream, ulaw, 160)
    finally:
        await stream.aclose()
        await stt.aclose()
    assert down.opened == 1 and stream.used == ["pocketsphinx"]
    assert "order" in final.text.split(), final.text


async def test_an_open_breaker_is_skipped_then_one_trial_after_the_cooldown(speech16k: bytes) -> None:
    clock = VirtualClock()
    down = DyingEngine(die_after=None, down=True)
    fallback: PocketsphinxEngine = calibrated_engine()
    stt = FailoverSTT([down, fallback], cooldown=30.0)
    await stt.start(clock)
    streams = [await stt.open_stream() for _ in range(2)]
    assert down.opened == 1  # the second call did not even try the dead provider
    await clock.advance(30.0)
    streams += [await stt.open_stream(), await stt.open_stream()]
    assert down.opened == 2  # exactly one trial when half-open, concurrent callers or not
    for s in streams:
        await s.aclose()
    await stt.aclose()


class GarbageEngine(DyingEngine):
    """Pocketsphinx whose event stream breaks on a malformed provider message after the first interim."""

    async def open_stream(self, **kw: object) -> STTStream:
        return _Garbage(self, await self.inner.open_stream(**kw))  # type: ignore[arg-type]


class _Garbage(_Dying):
    async def events(self) -> AsyncIterator[STTEvent]:
        async for event in self.inner.events():
            yield event
            raise ValueError("malformed message: {'type': 'Results', 'channel': <truncated>")


async def test_garbage_from_the_recognizer_fails_over_without_losing_words(speech16k: bytes) -> None:
    stt = FailoverSTT([GarbageEngine(die_after=None), calibrated_engine()])
    await stt.start(VirtualClock())
    stream = await stt.open_stream()
    try:
        final, events = await _run(stream, speech16k, 640)
    finally:
        await stream.aclose()
        await stt.aclose()
    assert stream.used == ["dying", "pocketsphinx"]
    assert any(isinstance(e, STTFailure) and "malformed" in e.message for e in events)
    assert "order" in final.text.split() and "two" in final.text.split(), final.text


async def test_a_recognizer_slower_than_its_deadline_is_replaced(speech16k: bytes) -> None:
    from tests.speech.speech_helpers import FaultyEngine

    clock = VirtualClock()
    slow = FaultyEngine(hold_finals=True)  # answers finalize only when released: never, here
    stt = FailoverSTT([slow, calibrated_engine()], final_timeout=2.0)
    await stt.start(clock)
    stream = await stt.open_stream()
    events: list[STTEvent] = []

    async def collect() -> FinalText:
        async for event in stream.events():
            events.append(event)
            if isinstance(event, FinalText) and event.from_finalize:
                return event
        raise AssertionError("no final")

    reader = asyncio.create_task(collect())
    try:
        for i in range(0, len(speech16k), 640):
            await stream.send(speech16k[i : i + 640])
        await stream.finalize()
        await wait_until(lambda: slow.held > 0, timeout=30)
        await clock.advance(2.0)  # the deadline passes on the run clock
        final = await asyncio.wait_for(reader, 60)
    finally:
        slow.release()
        await stream.aclose()
        await stt.aclose()
    assert stream.used == ["pocketsphinx", "pocketsphinx"]
    assert any(isinstance(e, STTFailure) and "no final within 2s" in e.message for e in events)
    assert "order" in final.text.split(), final.text
