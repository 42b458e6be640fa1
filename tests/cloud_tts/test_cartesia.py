"""Cartesia through its SDK against the local fake: contexts, continuations, cancel, errors, drops."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator

import pytest

from tests.speech.speech_helpers import wait_until
from voiceflow.graphs import VirtualClock
from voiceflow.processors.audio.codecs import ulaw_encode
from voiceflow.services.tts import SSMLBuilder, TTSError, prosody_for
from voiceflow.services.tts.cartesia import CartesiaEngine, WordTime
from voiceflow.services.tts.engine import TTSProviderError
from voiceflow.testing.fakes import tts_audio
from voiceflow.testing.fakes.cartesia_server import FakeCartesiaServer

TEXT = "Your order shipped on Monday. It should arrive by Thursday afternoon."


@pytest.fixture
async def fake() -> AsyncIterator[FakeCartesiaServer]:
    async with FakeCartesiaServer() as server:
        yield server


@pytest.fixture
async def engine(fake: FakeCartesiaServer) -> AsyncIterator[CartesiaEngine]:
    e = CartesiaEngine(fake.api_key, base_url=fake.http_url)
    await e.start(VirtualClock())
    yield e
    await e.aclose()


async def _speak(engine: CartesiaEngine, text: str = TEXT, **kw: object) -> bytes:
    return b"".join([c async for c in engine.synthesize(text, **kw)])  # type: ignore[arg-type]


async def test_clauses_go_as_continuations_of_one_context(
    fake: FakeCartesiaServer, engine: CartesiaEngine
) -> None:
    await _speak(engine, prosody=prosody_for("angry"))
    conn = fake.connections[-1]
    assert conn.headers["Authorization"] == f"Bearer {fake.api_key}"
    assert any(k.lower() == "cartesia-version" for k in conn.headers)
    (ctx,) = fake.contexts.values()
    first, second, last = ctx.requests
    assert first["transcript"] == "Your order shipped on Monday. " and first["continue"] is True
    assert second["continue"] is True and last == {**last, "transcript": "", "continue": False}
    assert first["output_format"] == {"container": "raw", "encoding": "pcm_s16le", "sample_rate": 16000}
    assert first["voice"]["mode"] == "id" and first["language"] == "en"
    # an angry caller is answered slower, softer, calm
    assert first["generation_config"] == {"speed": 0.87, "volume": 0.8, "emotion": "calm"}
    assert ctx.ended == "done"


async def test_mulaw_for_the_phone_line_and_word_timestamps(fake: FakeCartesiaServer) -> None:
    words: list[WordTime] = []
    engine = CartesiaEngine(
        fake.api_key, base_url=fake.http_url, encoding="pcm_mulaw", sample_rate=8000, on_words=words.extend
    )
    try:
        pcm = await _speak(engine)
    finally:
        await engine.aclose()
    sent = tts_audio.speech("Your order shipped on Monday.", "mulaw", 8000) + tts_audio.speech(
        "It should arrive by Thursday afternoon.", "mulaw", 8000
    )
    assert ulaw_encode(pcm) == sent
    assert [w.word for w in words] == TEXT.split()
    assert all(a.end <= b.start + 1e-6 for a, b in itertools.pairwise(words))
    assert abs(words[-1].end - len(pcm) / 2 / 8000) < 0.01


async def test_interrupting_cancels_the_context_and_spares_the_others(
    fake: FakeCartesiaServer, engine: CartesiaEngine
) -> None:
    fake.faults.chunk_delay_s = 0.02
    stream = engine.synthesize(TEXT)
    other = asyncio.create_task(_speak(engine, "Thank you for calling."))
    assert await anext(stream)
    await stream.aclose()
    await wait_until(lambda: len(fake.cancelled) == 1, timeout=5)
    cancelled = fake.contexts[fake.cancelled[0]]
    sent = cancelled.chunks_sent
    assert await other  # the other call's context finished on the same socket
    await asyncio.sleep(0.1)
    assert cancelled.chunks_sent == sent  # nothing more generated after cancel
    assert len(fake.connections) == 1


@pytest.mark.parametrize(
    ("fault", "status"), [("quota_exceeded", "quota_exceeded"), ("rate_limited", "rate_limited")]
)
async def test_error_events_are_precise_and_the_socket_stays_up(
    fake: FakeCartesiaServer, engine: CartesiaEngine, fault: str, status: str
) -> None:
    fake.faults.error = fault
    with pytest.raises(TTSProviderError) as err:
        await _speak(engine)
    assert err.value.status == status and err.value.retryable == (status == "rate_limited")
    fake.faults.error = None
    assert await _speak(engine)
    assert len(fake.connections) == 1


async def test_an_unknown_voice_is_a_precise_error(fake: FakeCartesiaServer) -> None:
    engine = CartesiaEngine(fake.api_key, base_url=fake.http_url, voice_id="nope")
    try:
        with pytest.raises(TTSProviderError, match="voice_not_found"):
            await _speak(engine)
    finally:
        await engine.aclose()


async def test_a_bad_key_fails_at_start(fake: FakeCartesiaServer) -> None:
    engine = CartesiaEngine("wrong", base_url=fake.http_url)
    with pytest.raises(TTSProviderError, match="invalid_api_key"):
        await engine.start(VirtualClock())
    await engine.aclose()


async def test_a_dropped_socket_or_garbage_fails_the_utterance_then_reconnects(
    fake: FakeCartesiaServer, engine: CartesiaEngine
) -> None:
    fake.faults.drop_after = 2
    with pytest.raises(TTSProviderError, match="connection_lost"):
        await _speak(engine)
    fake.faults.drop_after = None
    assert await _speak(engine)
    assert len(fake.connections) == 2
    fake.faults.garbage = True
    with pytest.raises(TTSError, match="malformed frame"):
        await _speak(engine)
    fake.faults.garbage = False
    assert await _speak(engine)


async def test_ssml_becomes_sonic_tags(fake: FakeCartesiaServer, engine: CartesiaEngine) -> None:
    b = SSMLBuilder()
    b.text("Your code is ").say_as("A12", "characters").pause(300)
    with b.prosody(rate="fast"):
        b.text("Goodbye now.")
    await _speak(engine, b.to_string())
    (ctx,) = fake.contexts.values()
    sent = ctx.transcript
    assert "<spell>A12</spell>" in sent and '<break time="300ms"/>' in sent
    assert '<speed ratio="1.25"/>' in sent
