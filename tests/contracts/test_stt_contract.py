"""The streaming STT contract (voiceflow/services/stt/engine.py), for every recognizer in
``STT_CASES``, on real speech synthesized by Piper.

What each engine must do: stream interim text while audio is sent (when the case says it
can) and answer every ``finalize()`` with exactly one final; an empty final when nothing
was said; refuse bad audio with ``STTInputError`` and carry on; close idempotently with
``events()`` finishing; close mid-utterance (even with a ``send`` cancelled in flight)
leaving no task behind (the suite's conftest checks); keep two concurrent streams apart.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tests.contracts.stt_cases import STT_CASES, STTCase
from voiceflow.services.stt.engine import (
    FinalText,
    InterimText,
    SpeechStarted,
    STTClosedError,
    STTEngine,
    STTEvent,
    STTInputError,
    STTStream,
)
from voiceflow.sim.recognize import recognize
from voiceflow.sim.speech import normalize_words, synthesize, word_errors

RATE = 16000
CHUNK = 2 * RATE // 50  # 20 ms
RESCHEDULE = "i need to reschedule my appointment for next tuesday"
CANCEL = "please cancel my order"


@pytest.fixture(params=STT_CASES, ids=[c.id for c in STT_CASES])
async def case(request: pytest.FixtureRequest) -> AsyncIterator[tuple[STTCase, STTEngine]]:
    spec: STTCase = request.param
    async with spec.engine() as engine:
        yield spec, engine


def _speech(text: str) -> bytes:
    return bytes(RATE // 5) + synthesize(text, RATE) + bytes(RATE // 2)  # 0.2 s before, 0.5 s after


def _assert_heard(spec: STTCase, said: str, final: FinalText, *keywords: str) -> None:
    errors, words = word_errors(said, final.text)
    assert errors / words <= spec.max_wer, final.text
    assert set(keywords) <= set(normalize_words(final.text)), final.text


class Reader:
    """Reads a stream's events as they come, noting what arrived before ``finalize`` was called."""

    def __init__(self, stream: STTStream) -> None:
        self.events: list[STTEvent] = []
        self.before_finalize = 0
        self.finalized = False
        self.task = asyncio.create_task(self._read(stream))

    async def _read(self, stream: STTStream) -> None:
        async for event in stream.events():
            self.events.append(event)
            if not self.finalized:
                self.before_finalize += 1

    async def final(self, timeout: float = 30.0) -> FinalText:
        async with asyncio.timeout(timeout):
            while True:
                answers = [e for e in self.events if isinstance(e, FinalText) and e.from_finalize]
                if answers:
                    return answers[-1]
                await asyncio.sleep(0.01)

    async def done(self, timeout: float = 10.0) -> None:
        await asyncio.wait_for(self.task, timeout)


async def test_streams_interim_text_then_one_final_per_finalize(case: tuple[STTCase, STTEngine]) -> None:
    spec, engine = case
    stream = await engine.open_stream(hints=("reschedule",))
    reader = Reader(stream)
    try:
        speech = _speech(RESCHEDULE)
        for i in range(0, len(speech), CHUNK):
            await stream.send(speech[i : i + CHUNK])
            if spec.interims and i % (10 * CHUNK) == 0:
                await asyncio.sleep(0.005)  # a live caller's pace gives the reader its turns
        await asyncio.sleep(0.05)
        reader.finalized = True
        await stream.finalize()
        final = await reader.final()
    finally:
        await stream.aclose()
    await reader.done()
    events = reader.events
    interims = [e for e in events if isinstance(e, InterimText)]
    finals = [e for e in events if isinstance(e, FinalText)]
    if spec.interims:
        assert interims and reader.before_finalize > 0, "interim text streams while audio is sent"
        assert all(i.text for i in interims)
    assert [f.from_finalize for f in finals].count(True) == 1
    assert final.speech_final and 0.0 <= final.confidence <= 1.0
    assert events.index(final) > max((events.index(i) for i in interims), default=-1)
    starts = [i for i, e in enumerate(events) if isinstance(e, SpeechStarted)]
    if starts and interims:
        assert starts[0] < events.index(interims[0])
    _assert_heard(spec, RESCHEDULE, final, "reschedule", "appointment")
    duration = len(speech) / 2 / RATE
    assert 0.0 <= final.start <= final.end <= duration + 0.05
    for word in final.words:
        assert final.start - 0.05 <= word.start <= word.end <= final.end + 0.05
    assert [w.start for w in final.words] == sorted(w.start for w in final.words)


async def test_finalize_with_nothing_said_gives_an_empty_final(case: tuple[STTCase, STTEngine]) -> None:
    spec, engine = case
    stream = await engine.open_stream()
    try:
        await stream.finalize()  # nothing sent at all
        nothing = [e async for e in _until_final(stream)][-1]
        silence = await recognize(stream, bytes(RATE))  # one second of digital silence
        quiet = await recognize(stream, _noise(seconds=1.0, dbfs=-60))  # line hiss
        then = await recognize(stream, _speech(CANCEL))  # and the stream is still usable
    finally:
        await stream.aclose()
    for empty in (nothing, silence.final, quiet.final):
        assert isinstance(empty, FinalText)
        assert empty.text == "" and empty.speech_final and empty.from_finalize
    _assert_heard(spec, CANCEL, then.final, "cancel", "order")


async def test_bad_audio_is_refused_and_the_stream_goes_on(case: tuple[STTCase, STTEngine]) -> None:
    spec, engine = case
    for encoding in ("linear16", "mulaw"):
        if encoding not in engine.encodings:
            with pytest.raises(STTInputError, match=encoding):
                await engine.open_stream(encoding=encoding)  # type: ignore[arg-type]
    with pytest.raises(STTInputError, match="ogg"):
        await engine.open_stream(encoding="ogg")  # type: ignore[arg-type]
    with pytest.raises(STTInputError, match="11025"):
        await engine.open_stream(sample_rate=11025)
    stream = await engine.open_stream()
    try:
        speech = _speech(CANCEL)
        await stream.send(speech[:CHUNK])
        with pytest.raises(STTInputError, match="odd-length"):
            await stream.send(bytes(321))
        with pytest.raises(STTInputError, match="empty"):
            await stream.send(b"")
        result = await recognize(stream, speech[CHUNK:])
    finally:
        await stream.aclose()
    _assert_heard(spec, CANCEL, result.final, "cancel", "order")


async def test_aclose_is_idempotent_and_ends_events(case: tuple[STTCase, STTEngine]) -> None:
    _, engine = case
    stream = await engine.open_stream()
    reader = Reader(stream)
    await stream.send(_speech(CANCEL)[: RATE // 2])
    await stream.aclose()
    await stream.aclose()
    await reader.done()  # a reader waiting on events() is let go
    assert [e async for e in stream.events()] == []
    with pytest.raises(STTClosedError):
        await stream.send(bytes(CHUNK))
    with pytest.raises(STTClosedError):
        await stream.finalize()
    await engine.aclose()
    await engine.aclose()


async def test_closing_mid_utterance_with_a_send_in_flight_leaves_nothing(
    case: tuple[STTCase, STTEngine],
) -> None:
    spec, engine = case
    stream = await engine.open_stream()
    reader = Reader(stream)
    speech = _speech(RESCHEDULE)
    half = len(speech) // 2 // CHUNK * CHUNK
    for i in range(0, half, CHUNK):
        await stream.send(speech[i : i + CHUNK])
    in_flight = asyncio.create_task(stream.send(speech[half:]))
    await asyncio.sleep(0)
    in_flight.cancel()
    await asyncio.gather(in_flight, return_exceptions=True)
    await stream.aclose()
    await reader.done()
    # the engine is fine afterwards: a new stream of it hears a new utterance
    again = await engine.open_stream()
    try:
        result = await recognize(again, _speech(CANCEL))
    finally:
        await again.aclose()
    _assert_heard(spec, CANCEL, result.final, "cancel", "order")


async def test_two_concurrent_streams_are_independent(case: tuple[STTCase, STTEngine]) -> None:
    spec, engine = case
    first, second = await engine.open_stream(), await engine.open_stream()
    try:
        a, b = await asyncio.gather(recognize(first, _speech(RESCHEDULE)), recognize(second, _speech(CANCEL)))
        # and once more the other way round: neither stream carries the other's audio
        c, d = await asyncio.gather(recognize(first, _speech(CANCEL)), recognize(second, _speech(RESCHEDULE)))
    finally:
        await first.aclose()
        await second.aclose()
    _assert_heard(spec, RESCHEDULE, a.final, "reschedule", "appointment")
    _assert_heard(spec, CANCEL, b.final, "cancel", "order")
    _assert_heard(spec, CANCEL, c.final, "cancel", "order")
    _assert_heard(spec, RESCHEDULE, d.final, "reschedule", "appointment")
    assert "cancel" not in normalize_words(a.text) and "reschedule" not in normalize_words(b.text)


async def _until_final(stream: STTStream) -> AsyncIterator[STTEvent]:
    async with asyncio.timeout(30):
        async for event in stream.events():
            yield event
            if isinstance(event, FinalText) and event.from_finalize:
                return


def _noise(*, seconds: float, dbfs: float) -> bytes:
    import numpy as np

    rng = np.random.default_rng(3)
    level = 32767 * 10 ** (dbfs / 20)
    return (rng.standard_normal(int(seconds * RATE)) * level).astype("<i2").tobytes()
