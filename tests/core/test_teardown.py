"""Runs own their tasks: after End, Cancel, a failing processor or a timeout, nothing is left."""

from __future__ import annotations

import asyncio

import pytest

from tests.core.helpers import TokenStreamer
from voiceflow.frames import AudioRaw, Cancel, End, Error, Transcript
from voiceflow.graphs import Collector, Graph, GraphRun, RunError, VirtualClock
from voiceflow.processors import FatalError, Passthrough, Processor, on


def run_tasks(run: GraphRun) -> list[asyncio.Task[object]]:
    return [t for t in asyncio.all_tasks() if t.get_name().startswith(("worker:", "run:", "observer"))]


async def test_end_drains_and_leaves_no_task() -> None:
    sink = Collector(name="sink")
    g = Graph("g", inputs=[Transcript]).chain(Passthrough(name="a"), Passthrough(name="b"), sink)
    run = GraphRun(g, clock=VirtualClock())
    await run.start()
    assert len(run_tasks(run)) == 4  # three workers + the supervisor
    for i in range(100):
        await run.push(run.make(Transcript, text=str(i)))
    await run.end(timeout=5)
    assert len(sink.of(Transcript)) == 100
    assert run_tasks(run) == []


async def test_cancel_stops_at_once_and_leaves_no_task() -> None:
    clock = VirtualClock()
    llm = TokenStreamer(name="llm", n=1000, gap=1.0)
    sink = Collector(name="sink")
    run = GraphRun(Graph("g", inputs=[Transcript]).chain(llm, sink), clock=clock)
    await run.start()
    await run.push(run.make(Transcript, text="talk forever"))
    await clock.advance(3)
    await run.cancel(reason="caller hung up")
    assert run.done and run.cancel_reason == "caller hung up"
    assert llm.cancelled == 1
    assert run_tasks(run) == []
    assert clock.pending == 0


async def test_cancel_frame_pushed_by_a_processor_ends_the_run() -> None:
    class HangUp(Processor):
        @on(Transcript)
        async def bye(self, frame: Transcript) -> None:
            if frame.text == "bye":
                await self.push(Cancel(reason="caller said bye"))
            else:
                await self.push(frame)

    sink = Collector(name="sink")
    run = GraphRun(Graph("g", inputs=[Transcript]).chain(HangUp(name="h"), sink), clock=VirtualClock())
    await run.start()
    await run.push(run.make(Transcript, text="hello"))
    await run.push(run.make(Transcript, text="bye"))
    await run.wait(timeout=5)
    assert run.cancel_reason == "caller said bye"
    assert run_tasks(run) == []


async def test_a_raising_handler_becomes_an_error_frame_and_the_run_goes_on() -> None:
    class Flaky(Processor):
        @on(Transcript)
        async def t(self, frame: Transcript) -> None:
            if frame.text == "boom":
                raise ValueError("bad transcript")
            await self.push(frame)

    sink = Collector(name="sink")
    g = Graph("g", inputs=[Transcript]).chain(Passthrough(name="src"), Flaky(name="flaky"), sink)
    async with GraphRun(g, clock=VirtualClock()) as run:
        for text in ("a", "boom", "b"):
            await run.push(run.make(Transcript, text=text))
    assert [f.text for f in sink.of(Transcript)] == ["a", "b"]
    assert [(e.processor, e.message) for e in run.errors] == [("flaky", "ValueError: bad transcript")]
    assert run_tasks(run) == []


async def test_a_fatal_error_ends_the_run_with_run_error() -> None:
    class Broken(Processor):
        @on(AudioRaw)
        async def a(self, frame: AudioRaw) -> None:
            raise FatalError("model file unreadable")

    run = GraphRun(
        Graph("g", inputs=[AudioRaw]).chain(Broken(name="stt"), Collector(name="sink")), clock=VirtualClock()
    )
    await run.start()
    await run.push(run.make(AudioRaw, audio=b"\0\0", sample_rate=16000))
    with pytest.raises(RunError, match="stt: FatalError: model file unreadable"):
        await run.wait(timeout=5)
    assert isinstance(run.errors[0], Error) and run.errors[0].fatal
    assert run_tasks(run) == []


async def test_end_times_out_when_a_processor_never_finishes() -> None:
    clock = VirtualClock()

    class Stuck(Processor):
        async def on_end(self, frame: End) -> None:
            await asyncio.Event().wait()  # never set: a processor that hangs on flush

    run = GraphRun(Graph("g").chain(Stuck(name="stuck"), Collector(name="sink")), clock=clock)
    await run.start()
    ending = asyncio.create_task(run.end(timeout=2.0))
    await clock.advance(1.0)
    assert not ending.done()
    await clock.advance(1.5)
    with pytest.raises(TimeoutError):
        await ending
    assert run.done and run_tasks(run) == []


async def test_setup_failure_is_reported_and_nothing_is_left() -> None:
    class NoModel(Processor):
        async def setup(self) -> None:
            raise FileNotFoundError("voice.onnx")

    run = GraphRun(Graph("g").chain(NoModel(name="tts")), clock=VirtualClock())
    with pytest.raises(ExceptionGroup):
        await run.start()
    assert run_tasks(run) == []


async def test_cleanup_runs_for_every_processor() -> None:
    closed: list[str] = []

    class Resource(Processor):
        async def cleanup(self) -> None:
            closed.append(self.name)

    async with GraphRun(Graph("g").chain(Resource(name="a"), Resource(name="b")), clock=VirtualClock()):
        pass
    assert closed == ["a", "b"]


async def test_a_processor_belongs_to_one_run_at_a_time() -> None:
    p = Passthrough(name="p")
    GraphRun(Graph("g").chain(p))
    with pytest.raises(RuntimeError, match="already belongs to a run"):
        GraphRun(Graph("g2").chain(p))
