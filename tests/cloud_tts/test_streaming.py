"""An LLM response spoken on one voice stream while its tokens arrive: one ElevenLabs stream-input
socket and one Cartesia context per response (each clause sent as soon as the tokens complete it),
through the TTS router too, with failover from the first word not begun; barge-in closes the
stream and no audio of the interrupted response comes out after it."""

from __future__ import annotations

import asyncio

import pytest

from tests.speech.speech_helpers import wait_until
from voiceflow.frames import LLMResponseEnd, LLMToken, TTSAudio
from voiceflow.graphs import Collector, Graph, GraphRun, VirtualClock
from voiceflow.processors.tts import TTSProcessor
from voiceflow.services.tts import RoutedEngine, TTSEngine, TTSRouter
from voiceflow.services.tts.cartesia import CartesiaEngine
from voiceflow.services.tts.elevenlabs import ElevenLabsEngine
from voiceflow.services.tts.piper import PiperEngine
from voiceflow.testing.fakes import tts_audio
from voiceflow.testing.fakes.cartesia_server import FakeCartesiaServer
from voiceflow.testing.fakes.elevenlabs_server import FakeElevenLabsServer

TOKENS = [
    "Thanks for waiting",
    " while I looked that up.",
    " Your order shipped",
    " on Monday from our warehouse,",
    " and it should arrive",
    " by Thursday afternoon.",
]
TEXT = "".join(TOKENS)


async def _speak_tokens(engine: TTSEngine, *, interrupt_after_audio: bool = False) -> tuple[int, int]:
    """The tokens through the TTS processor; (audio chunks out, stale chunks after an interrupt)."""
    tts = TTSProcessor(engine, name="tts")
    sink = Collector(name="sink")
    graph = Graph("voice", inputs=[LLMToken, LLMResponseEnd]).chain(tts, sink)
    stale = 0
    async with GraphRun(graph) as run:
        for token in TOKENS:
            await run.push(run.make(LLMToken, text=token))
            await asyncio.sleep(0.02)  # an LLM's pace: the voice starts before the text is complete
        if interrupt_after_audio:
            await wait_until(lambda: bool(sink.of(TTSAudio)), timeout=20)
            interrupt = await tts.interrupt()
            before = len(sink.of(TTSAudio))
            await asyncio.sleep(0.5)
            stale = sum(f.generation < interrupt.generation for f in sink.of(TTSAudio)[before:])
        else:
            await run.push(run.make(LLMResponseEnd))
            await wait_until(lambda: bool(sink.of(LLMResponseEnd)), timeout=30)
    audio = sink.of(TTSAudio)
    assert len({f.utterance_id for f in audio}) <= 1  # one utterance
    return len(audio), stale


async def test_one_elevenlabs_socket_per_response_text_sent_as_it_arrives() -> None:
    async with FakeElevenLabsServer() as fake:
        chunks, _ = await _speak_tokens(ElevenLabsEngine(fake.api_key, base_url=fake.http_url))
    (session,) = fake.sessions  # one socket for the six tokens
    assert chunks > 0 and session.ended == "final"
    assert " ".join(session.text_received.split()) == TEXT
    flushed = [m for m in session.messages[1:] if m.get("flush")]
    assert len(flushed) >= 3  # flushed clause by clause, not once at the end


async def test_one_cartesia_context_per_response_clauses_as_continuations() -> None:
    async with FakeCartesiaServer() as fake:
        engine = CartesiaEngine(fake.api_key, base_url=fake.http_url)
        try:
            chunks, _ = await _speak_tokens(engine)
        finally:
            await engine.aclose()
    (ctx,) = fake.contexts.values()
    assert chunks > 0 and ctx.ended == "done"
    assert " ".join(ctx.transcript.split()) == TEXT
    continued = [r for r in ctx.requests if r.get("continue")]
    assert len(continued) >= 3 and ctx.requests[-1]["continue"] is False


@pytest.mark.parametrize("voice", ["elevenlabs", "cartesia"])
async def test_barge_in_closes_the_response_stream_and_no_stale_audio_follows(voice: str) -> None:
    if voice == "elevenlabs":
        async with FakeElevenLabsServer() as eleven:
            eleven.faults.chunk_delay_s = 0.03
            _, stale = await _speak_tokens(
                ElevenLabsEngine(eleven.api_key, base_url=eleven.http_url), interrupt_after_audio=True
            )
            await wait_until(lambda: eleven.sessions[-1].ended is not None, timeout=5)
            assert eleven.sessions[-1].ended == "client_closed" and len(eleven.sessions) == 1
    else:
        async with FakeCartesiaServer() as cartesia:
            cartesia.faults.chunk_delay_s = 0.03
            engine = CartesiaEngine(cartesia.api_key, base_url=cartesia.http_url)
            try:
                _, stale = await _speak_tokens(engine, interrupt_after_audio=True)
                await wait_until(lambda: len(cartesia.cancelled) == 1, timeout=5)
            finally:
                await engine.aclose()
            (ctx,) = cartesia.contexts.values()
            assert ctx.ended == "cancelled"
    assert stale == 0


async def test_router_stream_fails_over_from_the_first_word_not_begun() -> None:
    """ElevenLabs' socket drops mid-response: Cartesia is given the rest of the response, from the
    first word ElevenLabs had not begun (by its alignment), then the tokens still to come."""
    clock = VirtualClock()
    async with FakeElevenLabsServer() as eleven, FakeCartesiaServer() as cartesia:
        eleven.faults.drop_after = 12
        router = TTSRouter(
            [
                RoutedEngine(ElevenLabsEngine(eleven.api_key, base_url=eleven.http_url), quality=0.95),
                RoutedEngine(CartesiaEngine(cartesia.api_key, base_url=cartesia.http_url), quality=0.8),
            ],
            fallback=PiperEngine(),
            policy="quality",
            clock=clock,
        )
        await router.start(clock)
        try:
            chunks, _ = await _speak_tokens(router)
        finally:
            await router.aclose()
    assert chunks > 0 and eleven.sessions[-1].ended == "dropped" and len(eleven.sessions) == 1
    (first, _), (second, rest) = router.last_parts
    assert (first, second) == ("elevenlabs", "cartesia")
    # the first word ElevenLabs had not begun when its audio stopped, by the alignment it sent
    clause = eleven.sessions[-1].generated[0]
    spoken = tts_audio.speech(clause, "pcm", 16000)
    _, starts, _ = tts_audio.word_times(clause, len(spoken) / 2 / 16000)
    unheard = next(i for i, start in enumerate(starts) if start >= 12 * tts_audio.CHUNK_MS / 1000)
    rest_words = rest.split()
    assert rest_words == TEXT.split()[unheard:]  # nothing heard said twice, nothing skipped
    (ctx,) = cartesia.contexts.values()
    assert " ".join(ctx.transcript.split()) == " ".join(rest_words)
