"""Interrupt: stale bot output dropped everywhere, user input kept, in-flight work cancelled."""

from __future__ import annotations

import asyncio

from tests.core.helpers import Gate, SlowSpeaker, TokenStreamer
from voiceflow.frames import DTMF, AudioRaw, LLMToken, Transcript, TTSAudio
from voiceflow.graphs import Collector, Graph, GraphRun, VirtualClock
from voiceflow.processors import Processor, on


async def test_stale_bot_output_is_dropped_at_every_stage() -> None:
    clock = VirtualClock()
    llm = TokenStreamer(name="llm", n=10, gap=0.1)
    tts = SlowSpeaker(name="tts", cost=0.5)
    sink = Collector(name="sink")
    graph = Graph("agent", inputs=[Transcript]).chain(llm, tts, sink)
    async with GraphRun(graph, clock=clock) as run:
        await run.push(run.make(Transcript, text="a"))
        await clock.advance(0.55)  # 5 tokens made, tts has spoken 1, 4 wait in its queue
        assert tts.queue.depth >= 3
        before = len(sink.of(TTSAudio))
        interrupt = await llm.interrupt()
        assert tts.queue.depth == 0  # queued stale tokens purged on the spot
        await clock.advance(10)
        assert llm.cancelled == 1 and llm.finished == 0
        # a new turn in the new generation flows normally
        await run.push(run.make(Transcript, text="b"))
        await clock.run_until_idle()
    audio = sink.of(TTSAudio)
    stale = [f for f in audio if f.generation < interrupt.generation]
    assert len(stale) == before <= 1  # nothing of the old turn after the interrupt
    fresh = [f for f in audio if f.generation == interrupt.generation]
    assert len(fresh) == 10
    assert run.stats()["tts"]["dropped_stale"] >= 3


async def test_user_input_survives_an_interrupt() -> None:
    gate = Gate(name="gate")
    sink = Collector(name="sink")
    graph = Graph("input", inputs=[AudioRaw, Transcript, DTMF, LLMToken]).chain(gate, sink)
    async with GraphRun(graph, clock=VirtualClock()) as run:
        await run.push(run.make(AudioRaw, audio=b"\1\0" * 160, sample_rate=8000))
        await run.push(run.make(LLMToken, text="old bot words"))
        await run.push(run.make(Transcript, text="hello"))
        await run.push(run.make(DTMF, digit="5"))
        await asyncio.sleep(0)
        await gate.interrupt()
        gate.open.set()
    kinds = [f.type_name for f in sink.frames if f.type_name not in ("Start", "End")]
    assert kinds == ["AudioRaw", "Transcript", "DTMF"]


async def test_inflight_handler_of_old_generation_is_cancelled_and_worker_goes_on() -> None:
    clock = VirtualClock()
    cleaned: list[str] = []

    class LongReply(Processor):
        produces = (LLMToken,)

        @on(Transcript)
        async def reply(self, frame: Transcript) -> None:
            try:
                await self.run.clock.sleep(100)
                await self.push(LLMToken(text="late " + frame.text))
            finally:
                cleaned.append(frame.text)

        @on(DTMF)
        async def digit(self, frame: DTMF) -> None:
            await self.push(LLMToken(text="digit " + frame.digit))

    proc = LongReply(name="llm")
    sink = Collector(name="sink")
    async with GraphRun(Graph("g", inputs=[Transcript, DTMF]).chain(proc, sink), clock=clock) as run:
        await run.push(run.make(Transcript, text="one"))
        await run.push(run.make(DTMF, digit="7"))
        await clock.advance(1)
        await proc.interrupt()
        await clock.advance(0)
        assert cleaned == ["one"]
        await clock.advance(1)
    tokens = [f.text for f in sink.of(LLMToken)]
    assert tokens == ["digit 7"]
    assert clock.pending == 0


async def test_turn_tasks_are_cancelled_but_not_the_new_turn() -> None:
    clock = VirtualClock()
    done: list[int] = []

    class Background(Processor):
        produces = (LLMToken,)

        @on(Transcript)
        async def start(self, frame: Transcript) -> None:
            gen = self.generation

            async def later() -> None:
                await self.run.clock.sleep(5)
                done.append(gen)

            self.create_task(later())

    proc = Background(name="bg")
    async with GraphRun(
        Graph("g", inputs=[Transcript]).chain(proc, Collector(name="sink")), clock=clock
    ) as run:
        await run.push(run.make(Transcript, text="x"))
        await clock.advance(1)
        await proc.interrupt()
        await run.push(run.make(Transcript, text="y"))
        await clock.advance(10)
    assert done == [1]


async def test_non_interruptible_processor_keeps_working_through_interrupts() -> None:
    clock = VirtualClock()
    heard: list[str] = []

    class Recognizer(Processor):
        produces = (Transcript,)  # user input: its work is never cancelled

        @on(AudioRaw)
        async def audio(self, frame: AudioRaw) -> None:
            await self.run.clock.sleep(1)
            heard.append("chunk")

    rec = Recognizer(name="stt")
    async with GraphRun(Graph("g", inputs=[AudioRaw]).chain(rec, Collector(name="sink")), clock=clock) as run:
        await run.push(run.make(AudioRaw, audio=b"\0\0", sample_rate=16000))
        await clock.advance(0.5)
        await rec.interrupt()
        await clock.advance(1)
    assert heard == ["chunk"]
