"""Barge-in with cloud voices inside the TTS processor: the Cartesia context is cancelled, the
ElevenLabs socket closed, and no audio of the interrupted utterance comes out afterwards."""

from __future__ import annotations

import asyncio

from tests.speech.speech_helpers import wait_until
from voiceflow.frames import TextToSpeak, TTSAudio
from voiceflow.graphs import Collector, Graph, GraphRun
from voiceflow.processors.tts import TTSProcessor
from voiceflow.services.tts import TTSEngine
from voiceflow.services.tts.cartesia import CartesiaEngine
from voiceflow.services.tts.elevenlabs import ElevenLabsEngine
from voiceflow.testing.fakes.cartesia_server import FakeCartesiaServer
from voiceflow.testing.fakes.elevenlabs_server import FakeElevenLabsServer

LONG = (
    "Thanks for waiting while I looked that up. Your order shipped on Monday from our warehouse. "
    "It should arrive by Thursday afternoon. The tracking number is in your email."
)


async def _interrupt_mid_utterance(engine: TTSEngine) -> tuple[int, int]:
    """Speak LONG, interrupt after the first audio; (chunks before, stale chunks after) at the sink."""
    tts = TTSProcessor(engine, name="tts")
    sink = Collector(name="sink")
    graph = Graph("voice", inputs=[TextToSpeak]).chain(tts, sink)
    async with GraphRun(graph) as run:
        await run.push(run.make(TextToSpeak, text=LONG))
        await wait_until(lambda: bool(sink.of(TTSAudio)), timeout=20)
        interrupt = await tts.interrupt()
        before = len(sink.of(TTSAudio))
        await asyncio.sleep(0.5)
        stale = [f for f in sink.of(TTSAudio)[before:] if f.generation < interrupt.generation]
    return before, len(stale)


async def test_cartesia_context_is_cancelled_on_barge_in() -> None:
    async with FakeCartesiaServer() as fake:
        fake.faults.chunk_delay_s = 0.03
        engine = CartesiaEngine(fake.api_key, base_url=fake.http_url)
        try:
            before, stale = await _interrupt_mid_utterance(engine)
            await wait_until(lambda: len(fake.cancelled) == 1, timeout=5)
        finally:
            await engine.aclose()
        assert before > 0 and stale == 0
        (ctx,) = fake.contexts.values()
        assert ctx.ended == "cancelled" and ctx.chunks_sent < 40


async def test_elevenlabs_stream_is_closed_on_barge_in() -> None:
    async with FakeElevenLabsServer() as fake:
        fake.faults.chunk_delay_s = 0.03
        engine = ElevenLabsEngine(fake.api_key, base_url=fake.http_url)
        before, stale = await _interrupt_mid_utterance(engine)
        await wait_until(lambda: fake.sessions[-1].ended is not None, timeout=5)
        assert before > 0 and stale == 0
        assert fake.sessions[-1].ended == "client_closed"
        assert len(fake.sessions[-1].generated) < 4  # the rest of the text was never generated
