"""Frames on one edge arrive in push order, whatever the scheduling; control never overtakes data."""

from __future__ import annotations

import asyncio

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voiceflow.frames import Interrupt, Transcript, UserStartedSpeaking, UserStoppedSpeaking
from voiceflow.graphs import Collector, Graph, GraphRun, Merge, VirtualClock
from voiceflow.processors import Processor, on


class Jitter(Processor):
    """Yields to the loop a scripted number of times per frame: a random interleaving."""

    def __init__(self, yields: list[int], *, name: str) -> None:
        super().__init__(name=name)
        self.yields = yields
        self.i = 0

    @on(Transcript, UserStartedSpeaking, UserStoppedSpeaking)
    async def any(self, frame: Transcript | UserStartedSpeaking | UserStoppedSpeaking) -> None:
        for _ in range(self.yields[self.i % len(self.yields)]):
            await asyncio.sleep(0)
        self.i += 1
        await self.push(frame)


class STTLike(Processor):
    """Emits the final transcript and then the speech-stopped frame that describes it."""

    produces = (Transcript,)

    @on(UserStoppedSpeaking)
    async def stopped(self, frame: UserStoppedSpeaking) -> None:
        await self.push(Transcript(text=f"turn-{frame.id}", final=True))
        await self.push(frame)


yield_lists = st.lists(st.integers(min_value=0, max_value=4), min_size=1, max_size=8)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(a=yield_lists, b=yield_lists, c=yield_lists, n=st.integers(min_value=1, max_value=40))
def test_one_edge_keeps_push_order(a: list[int], b: list[int], c: list[int], n: int) -> None:
    async def scenario() -> list[str]:
        sink = Collector(name="sink")
        graph = Graph("order", inputs=[Transcript]).chain(
            Jitter(a, name="a"), Jitter(b, name="b"), Jitter(c, name="c"), sink
        )
        async with GraphRun(graph, clock=VirtualClock()) as run:
            for i in range(n):
                await run.push(run.make(Transcript, text=str(i), final=False))
                if i % 3 == 0:  # urgent frames interleaved: they must not reorder data
                    await run.node("a").interrupt()
        return [f.text for f in sink.of(Transcript)]

    assert asyncio.run(scenario()) == [str(i) for i in range(n)]


@settings(max_examples=30, deadline=None)
@given(a=yield_lists, b=yield_lists, turns=st.integers(min_value=1, max_value=10))
def test_speech_stopped_never_overtakes_its_final_transcript(a: list[int], b: list[int], turns: int) -> None:
    async def scenario() -> list[str]:
        sink = Collector(name="sink")
        graph = Graph("stt", inputs=[UserStartedSpeaking, UserStoppedSpeaking]).chain(
            Jitter(a, name="pre"), STTLike(name="stt"), Jitter(b, name="post"), sink
        )
        async with GraphRun(graph, clock=VirtualClock()) as run:
            for _ in range(turns):
                await run.push(run.make(UserStartedSpeaking))
                await run.push(run.make(UserStoppedSpeaking))
        return [type(f).__name__ for f in sink.frames if not f.type_name.startswith(("Start", "End"))]

    kinds = asyncio.run(scenario())
    expected = ["UserStartedSpeaking", "Transcript", "UserStoppedSpeaking"] * turns
    assert kinds == expected


async def test_merge_keeps_each_inputs_order() -> None:
    sink = Collector(name="sink")
    left, right = Jitter([0, 3, 1], name="left"), Jitter([2, 0], name="right")
    src = Jitter([0], name="src")
    graph = Graph("fanin", inputs=[Transcript]).fan_out(src, [left, right])
    merge = Merge(name="merge")
    graph.fan_in([left, right], merge).link(merge, sink)
    async with GraphRun(graph, clock=VirtualClock()) as run:
        for i in range(30):
            await run.push(run.make(Transcript, text=str(i), final=False))
    texts = [f.text for f in sink.of(Transcript)]
    # fan-out then fan-in: each value twice, and each branch's copies in order
    assert sorted(texts, key=int) == [str(i) for i in range(30) for _ in (0, 1)]
    firsts = [t for i, t in enumerate(texts) if t not in texts[:i]]
    assert firsts == [str(i) for i in range(30)]


async def test_interrupt_overtakes_queued_frames() -> None:
    from tests.core.helpers import Gate

    seen: list[str] = []

    class Watch(Processor):
        async def on_interrupt(self, frame: Interrupt) -> None:
            seen.append("interrupt")

        @on(Transcript)
        async def t(self, frame: Transcript) -> None:
            seen.append(frame.text)
            await self.push(frame)

    gate = Gate(name="gate")
    graph = Graph("urgent", inputs=[Transcript]).chain(gate, Watch(name="watch"), Collector(name="sink"))
    async with GraphRun(graph, clock=VirtualClock()) as run:
        for i in range(3):
            await run.push(run.make(Transcript, text=str(i)))
        await asyncio.sleep(0)
        await gate.interrupt()  # gate is stuck on frame 0 with 1, 2 queued behind it
        gate.open.set()
    assert seen == ["interrupt", "0", "1", "2"]
