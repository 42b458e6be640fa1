"""Fan-out, fan-in, routers, nested graphs and upstream flow."""

from __future__ import annotations

from voiceflow.frames import DTMF, Frame, Intent, PlayoutReport, TextToSpeak, Transcript
from voiceflow.graphs import Collector, FrameLog, Graph, GraphRun, Merge, Router, VirtualClock, settle
from voiceflow.processors import Passthrough, Processor, on


class Upper(Processor):
    produces = (TextToSpeak,)

    @on(Transcript)
    async def t(self, frame: Transcript) -> None:
        await self.push(TextToSpeak(text=frame.text.upper()))


class Echo(Processor):
    produces = (TextToSpeak,)

    @on(Transcript)
    async def t(self, frame: Transcript) -> None:
        await self.push(TextToSpeak(text=frame.text + "!"))


def texts(c: Collector) -> list[str]:
    return [f.text for f in c.of(TextToSpeak)]


async def test_fan_out_feeds_every_branch() -> None:
    a, b = Collector(name="a"), Collector(name="b")
    src = Passthrough(name="src")
    g = Graph("fan", inputs=[Transcript]).fan_out(src, [a, b])
    async with GraphRun(g, clock=VirtualClock()) as run:
        await run.push(run.make(Transcript, text="x"))
    assert [f.text for f in a.of(Transcript)] == ["x"]
    assert [f.text for f in b.of(Transcript)] == ["x"]
    assert run.done


async def test_fan_in_merge_forwards_end_once_after_all_inputs() -> None:
    sink = Collector(name="sink")
    src = Passthrough(name="src")
    up, echo, merge = Upper(name="upper"), Echo(name="echo"), Merge(name="merge")
    g = (
        Graph("fanin", inputs=[Transcript])
        .fan_out(src, [up, echo])
        .fan_in([up, echo], merge)
        .link(merge, sink)
    )
    async with GraphRun(g, clock=VirtualClock()) as run:
        await run.push(run.make(Transcript, text="hi"))
    assert sorted(texts(sink)) == ["HI", "hi!"]
    assert [f.type_name for f in sink.frames].count("End") == 1
    assert [f.type_name for f in sink.frames].count("Start") == 1


async def test_router_sends_each_frame_to_one_branch_and_control_to_all() -> None:
    faq, other, merge, sink = (
        Upper(name="faq"),
        Echo(name="other"),
        Merge(name="merge"),
        Collector(name="sink"),
    )
    router = Router([("faq", lambda f: isinstance(f, Transcript) and "?" in f.text)], default="other")
    g = Graph("routed", inputs=[Transcript])
    g.route(router, {"faq": faq, "other": other}).fan_in([faq, other], merge).link(merge, sink)
    async with GraphRun(g, clock=VirtualClock()) as run:
        await run.push(run.make(Transcript, text="hours?"))
        await run.push(run.make(Transcript, text="hello"))
    assert sorted(texts(sink)) == ["HOURS?", "hello!"]
    assert run.stats()["faq"]["processed"] >= 2  # Start + one transcript + End
    assert [f.type_name for f in sink.frames].count("End") == 1


async def test_router_without_default_counts_unrouted_frames() -> None:
    sink = Collector(name="sink")
    router = Router([("digits", lambda f: isinstance(f, DTMF))])
    g = Graph("r", inputs=[DTMF, Transcript]).route(router, {"digits": sink})
    async with GraphRun(g, clock=VirtualClock()) as run:
        await run.push(run.make(DTMF, digit="1"))
        await run.push(run.make(Transcript, text="not a digit"))
    assert [f.type_name for f in sink.frames if f.type_name not in ("Start", "End")] == ["DTMF"]
    assert run.unrouted == 1


async def test_nested_graph_is_a_node_and_costs_no_extra_hop() -> None:
    inner = Graph("inner").chain(Passthrough(name="i1"), Upper(name="i2"))
    sink = Collector(name="sink")
    outer = Graph("outer", inputs=[Transcript]).chain(Passthrough(name="in"), inner, sink)
    built = outer.build()
    assert [n.name for n in built.nodes] == ["in", "i1", "i2", "sink"]
    async with GraphRun(built, clock=VirtualClock()) as run:
        await run.push(run.make(Transcript, text="nested"))
    assert texts(sink) == ["NESTED"]


async def test_frames_travel_upstream_and_errors_reach_the_top() -> None:
    reports: list[Frame] = []

    class Player(Processor):
        produces = (PlayoutReport,)

        @on(TextToSpeak)
        async def play(self, frame: TextToSpeak) -> None:
            await self.push_up(PlayoutReport(utterance_id=7, played_ms=120.0, finished=True))
            await self.report_error("speaker hiccup")

    class Tracker(Processor):
        @on(PlayoutReport, upstream=True)
        async def played(self, frame: PlayoutReport) -> None:
            reports.append(frame)  # consumed here: does not travel further up

    g = Graph("up", inputs=[Transcript]).chain(
        Passthrough(name="transport"), Tracker(name="tracker"), Upper(name="up")
    )
    g.link(g._nodes[-1], Player(name="player"))
    async with GraphRun(g, clock=VirtualClock()) as run:
        await run.push(run.make(Transcript, text="x"))
    assert [r.utterance_id for r in reports] == [7]
    assert [e.message for e in run.errors] == ["speaker hiccup"]


async def test_observer_sees_every_push() -> None:
    log = FrameLog()
    g = Graph("obs", inputs=[Transcript]).chain(Upper(name="a"), Collector(name="sink"))
    run = GraphRun(g, clock=VirtualClock())
    run.add_observer(log)
    async with run:
        await run.push(run.make(Transcript, text="x"))
    pushed = [(e.source, e.frame.type_name) for e in log.events]
    assert pushed == [
        ("a", "Start"),
        ("a", "TextToSpeak"),
        ("a", "End"),
        ("sink", "Start"),
        ("sink", "TextToSpeak"),
        ("sink", "End"),
    ]


async def test_slow_observer_never_blocks_and_drops_oldest() -> None:
    import asyncio

    class Stuck:
        def __init__(self) -> None:
            self.release = asyncio.Event()

        async def on_push(self, event: object) -> None:
            await self.release.wait()

    stuck = Stuck()
    g = Graph("obs", inputs=[Intent]).chain(Passthrough(name="a"), Collector(name="sink"))
    run = GraphRun(g, clock=VirtualClock())
    run.add_observer(stuck, queue_size=5)
    async with run:
        for i in range(50):
            await run.push(run.make(Intent, intent=str(i), confidence=1.0))
        stuck.release.set()
    assert run.observers[0].dropped > 0


async def test_a_failing_observer_does_not_take_the_run_down() -> None:
    class Broken:
        async def on_push(self, event: object) -> None:
            raise RuntimeError("observer bug")

    sink = Collector(name="sink")
    run = GraphRun(Graph("obs", inputs=[Transcript]).chain(Upper(name="a"), sink), clock=VirtualClock())
    run.add_observer(Broken())
    async with run:
        await run.push(run.make(Transcript, text="still works"))
    assert texts(sink) == ["STILL WORKS"]
    assert run.observers[0].failures > 0


async def test_observer_added_during_setup_runs_once() -> None:
    log = FrameLog()

    class Watcher(Processor):
        async def setup(self) -> None:
            self.run.add_observer(log)

    run = GraphRun(
        Graph("obs", inputs=[Transcript]).chain(Watcher(name="w"), Collector(name="sink")),
        clock=VirtualClock(),
    )
    async with run:
        await run.push(run.make(Transcript, text="x"))
    observer_tasks = [e for e in log.events if e.frame.type_name == "Transcript" and e.source == "w"]
    assert len(observer_tasks) == 1


async def test_upstream_feedback_is_not_held_behind_a_busy_processor() -> None:
    from tests.core.helpers import Gate

    seen: list[str] = []

    class Listener(Processor):
        @on(PlayoutReport, upstream=True)
        async def played(self, frame: PlayoutReport) -> None:
            seen.append("report")

    class Reporter(Processor):
        produces = (PlayoutReport,)

        @on(Transcript)
        async def t(self, frame: Transcript) -> None:
            await self.push_up(PlayoutReport(utterance_id=1, played_ms=20.0))

    gate = Gate(name="busy")  # stuck in a handler, like a TTS synthesizing
    g = Graph("g", inputs=[Transcript, DTMF]).chain(
        Listener(name="listener"), gate, Reporter(name="reporter")
    )
    async with GraphRun(g, clock=VirtualClock()) as run:
        await run.push(run.make(DTMF, digit="1"))  # occupies the gate
        reporter = run.node("reporter")
        await reporter.push_up(PlayoutReport(utterance_id=1, played_ms=20.0))
        await settle()
        assert seen == ["report"]  # arrived while the gate was still busy
        gate.open.set()
