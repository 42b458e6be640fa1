"""The call ends after the farewell is heard, not when the end_call tool returns."""

from __future__ import annotations

from voiceflow.frames import BotStoppedSpeaking, End, TextToSpeak, ToolResult
from voiceflow.graphs import Collector, Graph, GraphRun, VirtualClock
from voiceflow.processors import Processor, on
from voiceflow.processors.dialogue.hangup import HangUpAfterGoodbye


class FakeLine(Processor):
    """An output end that reports playout after ``play_secs`` of each TextToSpeak."""

    produces = (BotStoppedSpeaking,)

    def __init__(self, play_secs: float | None) -> None:
        super().__init__(name="line")
        self.play_secs = play_secs

    @on(TextToSpeak)
    async def say(self, frame: TextToSpeak) -> None:
        await self.push(frame)
        if self.play_secs is not None:
            self.create_task(self._played(), turn=False)

    async def _played(self) -> None:
        assert self.play_secs is not None
        await self.run.clock.sleep(self.play_secs)
        await self.push_up(BotStoppedSpeaking())


async def _call(play_secs: float | None) -> tuple[GraphRun, Collector, VirtualClock]:
    clock = VirtualClock()
    sink = Collector(name="sink")
    graph = Graph("g", inputs=[TextToSpeak, ToolResult]).chain(
        HangUpAfterGoodbye(max_wait=20), FakeLine(play_secs), sink
    )
    run = GraphRun(graph, clock=clock)
    await run.start()
    await run.push(run.make(TextToSpeak, text="Goodbye!"))
    await run.push(run.make(ToolResult, call_id="c1", tool="end_call", result={"action": "hangup"}))
    return run, sink, clock


async def test_hangs_up_once_the_goodbye_has_played() -> None:
    run, sink, clock = await _call(play_secs=2.0)
    await clock.advance(1.9)
    assert not run.done
    await clock.advance(0.2)
    await run.wait(timeout=5)
    ends = sink.of(End)
    assert len(ends) == 1 and ends[0].reason == "agent hung up: goodbye played"


async def test_hangs_up_anyway_when_playout_is_never_reported() -> None:
    run, sink, clock = await _call(play_secs=None)
    await clock.advance(19)
    assert not run.done
    await clock.advance(2)
    await run.wait(timeout=5)
    assert "not reported played" in sink.of(End)[0].reason


async def test_other_tool_results_do_not_hang_up() -> None:
    clock = VirtualClock()
    sink = Collector(name="sink")
    graph = Graph("g", inputs=[ToolResult, TextToSpeak]).chain(HangUpAfterGoodbye(), FakeLine(None), sink)
    async with GraphRun(graph, clock=clock) as run:
        await run.push(run.make(ToolResult, call_id="c1", tool="check_order_status", result={}))
        await clock.advance(60)
        assert not run.done
