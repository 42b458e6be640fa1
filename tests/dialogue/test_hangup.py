"""The call ends after the farewell is heard, not when the end_call tool returns."""

from __future__ import annotations

from voiceflow.frames import BotStoppedSpeaking, End, TextToSpeak, ToolResult, UserStartedSpeaking
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
    graph = Graph("g", inputs=[TextToSpeak, ToolResult, UserStartedSpeaking]).chain(
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


async def test_a_farewell_the_caller_talked_over_is_not_a_goodbye_heard() -> None:
    from voiceflow.frames import PlayoutReport

    run, sink, clock = await _call(play_secs=None)
    hangup = run.node("hangup")
    line = run.node("line")
    await clock.advance(0.5)
    await line.push_up(PlayoutReport(utterance_id=1, played_ms=400, mark="clear"))  # cut by a clear
    await line.push_up(BotStoppedSpeaking())
    await clock.advance(0.1)
    assert not run.done  # the caller spoke over it
    # ... and went on with their turn: the goodbye's turn is undone, no hang-up at all
    await run.push(run.make(UserStartedSpeaking, continues=True))
    await clock.advance(30)
    assert not run.done and not sink.of(End) and not hangup.pending  # type: ignore[attr-defined]
    await run.end()


async def test_a_farewell_resumed_after_a_backchannel_hangs_up_once_it_played_to_the_end() -> None:
    from voiceflow.frames import PlayoutReport

    run, sink, clock = await _call(play_secs=None)
    line = run.node("line")
    await line.push_up(PlayoutReport(utterance_id=1, played_ms=400, mark="clear"))
    await line.push_up(BotStoppedSpeaking())
    await clock.advance(0.5)
    assert not run.done
    await line.push_up(PlayoutReport(utterance_id=2, played_ms=900, finished=True))
    await line.push_up(BotStoppedSpeaking())
    await clock.advance(0.1)
    await run.wait(timeout=5)
    assert [e.reason for e in sink.of(End)] == ["agent hung up: goodbye played"]


async def test_the_dialogue_reopening_after_the_farewell_calls_the_hang_up_off() -> None:
    run, sink, clock = await _call(play_secs=3.0)
    await clock.advance(1.0)  # the caller talks over the farewell with a new request
    await run.push(run.make(ToolResult, call_id="c2", tool="end_call", status="cancelled"))
    await clock.advance(30)
    assert not run.done and not sink.of(End) and not run.node("hangup").pending  # type: ignore[attr-defined]
    await run.end()


async def test_a_farewell_played_before_the_end_call_result_hangs_up_at_once() -> None:
    clock = VirtualClock()
    sink = Collector(name="sink")
    graph = Graph("g", inputs=[TextToSpeak, ToolResult]).chain(
        HangUpAfterGoodbye(max_wait=20), FakeLine(1.0), sink
    )
    run = GraphRun(graph, clock=clock)
    await run.start()
    await run.push(run.make(TextToSpeak, text="Bye!"))
    await clock.advance(1.5)  # played; end_call waited for the turn to settle
    assert not run.done
    await run.push(run.make(ToolResult, call_id="c1", tool="end_call", result={"action": "hangup"}))
    await clock.advance(0.1)
    await run.wait(timeout=5)
    assert [e.reason for e in sink.of(End)] == ["agent hung up: goodbye played"]
