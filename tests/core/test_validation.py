"""Invalid shapes are rejected when the graph is built, naming the nodes involved."""

from __future__ import annotations

import pytest

from voiceflow.frames import AudioRaw, TextToSpeak, Transcript, TTSAudio
from voiceflow.graphs import Collector, Graph, GraphError, Merge, Router
from voiceflow.processors import Passthrough, Processor, on


class Speaker(Processor):
    produces = (TTSAudio,)

    @on(TextToSpeak)
    async def speak(self, frame: TextToSpeak) -> None: ...


class Recognizer(Processor):
    produces = (Transcript,)

    @on(AudioRaw)
    async def audio(self, frame: AudioRaw) -> None: ...


def test_cycle_is_rejected_with_its_path() -> None:
    a, b, c = Passthrough(name="a"), Passthrough(name="b"), Passthrough(name="c")
    g = Graph("loop").chain(a, b, c).link(c, a)
    with pytest.raises(GraphError, match=r"cycle: a -> b -> c -> a"):
        g.build()


def test_self_loop_is_rejected() -> None:
    a = Passthrough(name="a")
    with pytest.raises(GraphError, match="cycle: a -> a"):
        Graph("g").link(a, a)


def test_unconnected_node_is_named() -> None:
    g = Graph("g").chain(Passthrough(name="a"), Passthrough(name="b")).add(Passthrough(name="orphan"))
    with pytest.raises(GraphError, match=r"unconnected nodes \['orphan'\]"):
        g.build()


def test_consumer_without_producer_is_named_with_its_upstream() -> None:
    g = Graph("g", inputs=[AudioRaw]).chain(Recognizer(name="stt"), Speaker(name="tts"))
    with pytest.raises(GraphError, match=r"node 'tts' consumes TextToSpeak but nothing upstream .*stt"):
        g.build()


def test_declared_inputs_satisfy_consumers() -> None:
    Graph("g", inputs=[AudioRaw]).chain(
        Passthrough(name="in"), Recognizer(name="stt"), Collector(name="sink")
    ).build()


def test_fan_in_without_merge_is_rejected() -> None:
    a, b, c = Passthrough(name="a"), Passthrough(name="b"), Passthrough(name="c")
    g = Graph("g").link(a, c).link(b, c)
    with pytest.raises(GraphError, match=r"node 'c' has 2 inputs \(a, b\); fan-in needs an explicit Merge"):
        g.build()
    with pytest.raises(GraphError, match="needs an explicit Merge"):
        Graph("g").fan_in([a, b], c)  # type: ignore[arg-type]


def test_duplicate_names_are_rejected() -> None:
    g = Graph("g").chain(Passthrough(name="x"), Passthrough(name="x"))
    with pytest.raises(GraphError, match="two nodes are named 'x'"):
        g.build()


def test_router_branches_must_match_routes() -> None:
    r = Router([("yes", lambda f: True), ("no", lambda f: False)], name="r")
    with pytest.raises(GraphError, match=r"router 'r'.*routes \['no'\] have no branch"):
        Graph("g").route(r, {"yes": Passthrough(name="y")})


def test_empty_graph_and_ambiguous_subgraph() -> None:
    with pytest.raises(GraphError, match="empty"):
        Graph("nothing").build()
    two_heads = Graph("heads").add(Passthrough(name="h1")).add(Passthrough(name="h2"))
    with pytest.raises(GraphError, match=r"graph 'heads' used as a node needs exactly one entry"):
        Graph("outer").link(Passthrough(name="x"), two_heads)


def test_valid_merge_graph_builds() -> None:
    src, a, b, m = Passthrough(name="src"), Passthrough(name="a"), Passthrough(name="b"), Merge(name="m")
    built = Graph("ok").fan_out(src, [a, b]).fan_in([a, b], m).build()
    assert [s.name for s in built.sources] == ["src"] and [s.name for s in built.sinks] == ["m"]
