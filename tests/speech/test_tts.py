"""Piper TTS: clause streaming, interruption, one model load, SSML rendering, emotion, bad input."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Iterator
from typing import cast

import numpy as np

from tests.speech.speech_helpers import wait_until
from voiceflow.frames import Intent, LLMResponseEnd, LLMToken, TextToSpeak, TTSAudio
from voiceflow.graphs import Collector, Graph, GraphRun, VirtualClock
from voiceflow.processors.tts import TTSProcessor
from voiceflow.services.tts import NEUTRAL, Prosody, SSMLBuilder
from voiceflow.services.tts.piper import PiperEngine, voice_loads

LONG_REPLY = (
    "Thanks for waiting while I looked that up. Your order shipped on Monday from our warehouse. "
    "It should arrive by Thursday afternoon. The tracking number is in your email. "
    "You can also check it on our website. Is there anything else I can help you with today?"
)


class CountingPiper(PiperEngine):
    """The real Piper engine, counting the chunks its worker thread produced."""

    def __init__(self) -> None:
        super().__init__(noise_scale=0.0, noise_w_scale=0.0)
        self.produced = 0

    def synthesize_blocking(
        self, text: str, prosody: Prosody = NEUTRAL, should_stop: Callable[[], bool] = lambda: False
    ) -> Iterator[bytes]:
        for pcm in super().synthesize_blocking(text, prosody, should_stop):
            self.produced += 1
            yield pcm


async def test_first_audio_leaves_before_the_reply_is_synthesized() -> None:
    engine = CountingPiper()
    stream = cast(AsyncGenerator[bytes, None], engine.synthesize(LONG_REPLY))
    first = await anext(stream)
    await stream.aclose()  # the listener is gone after the first clause...
    assert len(first) > 0
    await wait_until(lambda: engine.produced >= 1)
    # ...so the worker stopped long before the six sentences were done
    assert engine.produced < 6


async def test_processor_streams_chunks_of_20_to_100_ms_with_one_utterance_id() -> None:
    engine = PiperEngine(noise_scale=0.0, noise_w_scale=0.0)
    sink = Collector(name="sink")
    graph = Graph("tts", inputs=[TextToSpeak]).chain(TTSProcessor(engine, name="tts", chunk_ms=40), sink)
    async with GraphRun(graph, clock=VirtualClock()) as run:
        await run.push(run.make(TextToSpeak, text="Your order has shipped. It arrives Thursday."))
        await run.push(run.make(TextToSpeak, text="Goodbye.", utterance_id=77))
    chunks = sink.of(TTSAudio)
    assert chunks and all(c.sample_rate == 22050 for c in chunks)
    assert all(c.duration <= 0.040 + 1e-9 for c in chunks)
    assert sum(c.duration > 0.039 for c in chunks) >= len(chunks) - 2
    ids = [c.utterance_id for c in chunks]
    assert ids == sorted(ids) and set(ids) == {1, 77}


async def test_llm_tokens_are_spoken_clause_by_clause() -> None:
    engine = CountingPiper()
    sink = Collector(name="sink")
    graph = Graph("tts", inputs=[LLMToken]).chain(TTSProcessor(engine, name="tts"), sink)
    reply = "Sure! Your appointment is moved to Tuesday at ten, and a confirmation is on its way."
    async with GraphRun(graph, clock=VirtualClock()) as run:
        for word in reply.split(" "):
            await run.push(run.make(LLMToken, text=word + " "))
        # before the response ends, the complete clauses are already audio
        await wait_until(lambda: engine.produced >= 2)
        assert sink.of(TTSAudio)
        await run.push(run.make(LLMResponseEnd))
    assert engine.produced >= 3  # "Sure!" / "...at ten," / "and a confirmation..."
    assert {c.utterance_id for c in sink.of(TTSAudio)} == {1}
    assert sink.of(LLMResponseEnd)


async def test_interrupt_stops_stale_audio_and_synthesis() -> None:
    engine = CountingPiper()
    tts = TTSProcessor(engine, name="tts")
    sink = Collector(name="sink")
    graph = Graph("tts", inputs=[TextToSpeak]).chain(tts, sink)
    async with GraphRun(graph, clock=VirtualClock()) as run:
        await run.push(run.make(TextToSpeak, text=LONG_REPLY))
        await wait_until(lambda: bool(sink.of(TTSAudio)))
        interrupt = await tts.interrupt()
        at_interrupt = len(sink.frames)
        produced_at_interrupt = engine.produced
        await run.push(run.make(TextToSpeak, text="Okay."))
    after = [f for f in sink.frames[at_interrupt:] if isinstance(f, TTSAudio)]
    assert after, "the new generation is spoken"
    assert all(f.generation >= interrupt.generation for f in after)
    assert {f.utterance_id for f in after} == {2}
    # the old reply's worker stopped: at most the clause in progress finished after the interrupt
    assert engine.produced <= produced_at_interrupt + 2
    assert engine.produced < 6 + 1


async def test_voice_model_is_loaded_once_per_process() -> None:
    engines = [PiperEngine(), PiperEngine(noise_scale=0.0), CountingPiper()]
    for engine in engines:
        engine.load()
        async for _ in engine.synthesize("Hello."):
            pass
    assert voice_loads() == 1


async def test_ssml_breaks_become_silence_and_slow_rate_is_longer() -> None:
    engine = PiperEngine(noise_scale=0.0, noise_w_scale=0.0)
    plain = SSMLBuilder().text("Your order number is 1002.").to_string()
    b = SSMLBuilder()
    b.text("Your order number is").pause(800)
    with b.prosody(rate="slow"):
        b.say_as("1002", "digits")
    sink = Collector(name="sink")
    graph = Graph("tts", inputs=[TextToSpeak]).chain(TTSProcessor(engine, name="tts"), sink)
    async with GraphRun(graph, clock=VirtualClock()) as run:
        await run.push(run.make(TextToSpeak, text="", ssml=plain, utterance_id=1))
        await run.push(run.make(TextToSpeak, text="", ssml=b.to_string(), utterance_id=2))
    by_id: dict[int, bytes] = {1: b"", 2: b""}
    for c in sink.of(TTSAudio):
        by_id[c.utterance_id] += c.audio
    pcm = np.frombuffer(by_id[2], dtype="<i2")
    silent = pcm == 0
    longest, run_len = 0, 0
    for s in silent:
        run_len = run_len + 1 if s else 0
        longest = max(longest, run_len)
    assert longest >= int(0.8 * 22050)  # the break is rendered as exact silence
    assert len(by_id[2]) > len(by_id[1]) + 2 * int(0.8 * 22050)


async def test_angry_caller_gets_a_slower_quieter_answer() -> None:
    engine = PiperEngine(noise_scale=0.0, noise_w_scale=0.0)
    sink = Collector(name="sink")
    text = "I understand, let me fix that for you right away."
    graph = Graph("tts", inputs=[Intent, TextToSpeak]).chain(TTSProcessor(engine, name="tts"), sink)
    async with GraphRun(graph, clock=VirtualClock()) as run:
        await run.push(run.make(TextToSpeak, text=text, utterance_id=1))
        await run.push(run.make(Intent, intent="complaint", confidence=0.9, emotion="angry"))
        await run.push(run.make(TextToSpeak, text=text, utterance_id=2))
    audio = {1: b"", 2: b""}
    for c in sink.of(TTSAudio):
        audio[c.utterance_id] += c.audio
    neutral, angry = (np.frombuffer(audio[i], dtype="<i2").astype(np.float64) for i in (1, 2))
    assert len(angry) > 1.04 * len(neutral)  # rate 0.87: phonemes ~15% longer, pauses fixed
    assert np.abs(angry).max() < 0.9 * np.abs(neutral).max()  # volume 0.8
    assert sink.of(Intent), "the intent travels on"


async def test_bad_text_gives_errors_and_the_run_goes_on() -> None:
    sink = Collector(name="sink")
    graph = Graph("tts", inputs=[TextToSpeak]).chain(TTSProcessor(PiperEngine(), name="tts"), sink)
    async with GraphRun(graph, clock=VirtualClock()) as run:
        await run.push(run.make(TextToSpeak, text="   "))
        await run.push(run.make(TextToSpeak, text="", ssml="<speak>unclosed"))
        await run.push(run.make(TextToSpeak, text="", ssml='<speak><break time="soon"/></speak>'))
        await run.push(run.make(TextToSpeak, text="", ssml="<html>hi</html>"))
        await run.push(run.make(TextToSpeak, text="Still here.", utterance_id=9))
    messages = [e.message for e in run.errors]
    assert len(messages) == 4
    assert "empty text" in messages[0]
    assert "not well-formed" in messages[1]
    assert "break time" in messages[2]
    assert "<speak>" in messages[3]
    assert {c.utterance_id for c in sink.of(TTSAudio)} == {9}
