"""The TTS contract: what every TTSEngine adapter does (adapters: ``tts_adapters.TTS_ADAPTERS``).

- it streams PCM16 mono at ``sample_rate``, the first chunk before the whole text is synthesized;
- closing the stream early stops the backend's work promptly and leaves no task behind;
- bad input raises ``TTSError`` and leaves the engine usable;
- ``start`` / ``aclose`` are idempotent, a second ``start`` is cheap, a closed engine starts again;
- concurrent syntheses are independent (the same audio as alone; closing one spares the other).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator
from typing import cast

import numpy as np
import pytest

from tests.contracts.tts_adapters import TTSAdapter, TTSHarness
from tests.speech.speech_helpers import wait_until
from voiceflow.graphs import VirtualClock
from voiceflow.services.tts import TTSEngine, TTSError

LONG = (
    "Thanks for waiting while I looked that up. Your order shipped on Monday from our warehouse. "
    "It should arrive by Thursday afternoon. The tracking number is in your email. "
    "You can also check it on our website. Is there anything else I can help you with today?"
)
SHORT_A = "Your appointment is on Tuesday."
SHORT_B = "Thank you for calling, goodbye."


def _stream(engine: TTSEngine, text: str) -> AsyncGenerator[bytes, None]:
    return cast(AsyncGenerator[bytes, None], engine.synthesize(text))


async def _speak(engine: TTSEngine, text: str) -> bytes:
    return b"".join([chunk async for chunk in engine.synthesize(text)])


async def test_streams_pcm16_at_its_rate_first_chunk_before_the_text_is_done(tts: TTSHarness) -> None:
    rate = tts.engine.sample_rate
    assert 8000 <= rate <= 48000
    stream = _stream(tts.engine, LONG)
    first = await anext(stream)
    work_at_first = tts.work()
    chunks = [first] + [chunk async for chunk in stream]
    await wait_until(lambda: not tts.busy())
    assert work_at_first < tts.work(), "the first chunk waited for the whole text"
    assert all(isinstance(c, bytes) and c and len(c) % 2 == 0 for c in chunks)
    pcm = np.frombuffer(b"".join(chunks), dtype="<i2")
    seconds = len(pcm) / rate
    # spoken at the declared rate: 30-200 ms per character (Piper speaks ~70, the tone 60)
    assert 0.03 * len(LONG) < seconds < 0.2 * len(LONG)
    assert np.sqrt(np.mean(pcm.astype(np.float64) ** 2)) > 100  # audible, not silence


async def test_closing_the_stream_early_stops_the_work_and_leaves_no_task(tts: TTSHarness) -> None:
    before = set(asyncio.all_tasks())
    stream = _stream(tts.engine, LONG)
    first = await anext(stream)
    assert first
    closed_at = time.monotonic()
    await stream.aclose()
    work_at_close = tts.work()
    await wait_until(lambda: not tts.busy(), timeout=30.0)
    stopped_after = time.monotonic() - closed_at
    for _ in range(5):
        await asyncio.sleep(0)
    left = [t for t in asyncio.all_tasks() - before if not t.done() and t is not asyncio.current_task()]
    assert not left, f"tasks left behind: {[t.get_name() for t in left]}"
    early = tts.work()
    assert early <= work_at_close + 2  # at most the piece in progress is finished
    assert stopped_after < 5.0
    # the whole text is more work than what was done before the stream was closed
    await _speak(tts.engine, LONG)
    assert early < tts.work() - early


@pytest.mark.parametrize("text", ["", "   \n\t"])
async def test_bad_input_raises_tts_error_and_the_engine_still_speaks(tts: TTSHarness, text: str) -> None:
    with pytest.raises(TTSError):
        await _speak(tts.engine, text)
    assert await _speak(tts.engine, SHORT_A)


async def test_start_and_aclose_are_idempotent_and_a_closed_engine_starts_again(
    tts_adapter: TTSAdapter,
) -> None:
    clock = VirtualClock()
    async with tts_adapter.open() as h:
        await h.engine.aclose()  # closing a never-started engine is harmless
        await h.engine.start(clock)
        again = time.perf_counter()
        await h.engine.start(clock)
        assert time.perf_counter() - again < 0.1, "a second start must be cheap"
        assert await _speak(h.engine, SHORT_A)
        await h.engine.aclose()
        await h.engine.aclose()
        await h.engine.start(clock)
        assert await _speak(h.engine, SHORT_B)
        await h.engine.aclose()


async def test_concurrent_syntheses_are_independent(tts: TTSHarness) -> None:
    alone_a = await _speak(tts.engine, SHORT_A)
    alone_b = await _speak(tts.engine, SHORT_B)
    together_a, together_b = await asyncio.gather(_speak(tts.engine, SHORT_A), _speak(tts.engine, SHORT_B))
    assert together_a == alone_a and together_b == alone_b

    async def cut_short() -> None:
        stream = _stream(tts.engine, LONG)
        await anext(stream)
        await stream.aclose()

    _, b = await asyncio.gather(cut_short(), _speak(tts.engine, SHORT_B))
    assert b == alone_b  # closing one stream does not touch the other
    await wait_until(lambda: not tts.busy())
