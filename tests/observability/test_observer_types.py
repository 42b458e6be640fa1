"""Observers that declare ``frame_types`` see only those (what keeps the metrics observer cheap)."""

from __future__ import annotations

from voiceflow.core.observers import FrameLog, PushEvent
from voiceflow.frames import AudioRaw, TextToSpeak, Transcript
from voiceflow.graphs import Collector, Graph, GraphRun
from voiceflow.processors import Passthrough


class TextOnly:
    frame_types = (Transcript,)

    def __init__(self) -> None:
        self.events: list[PushEvent] = []

    async def on_push(self, event: PushEvent) -> None:
        self.events.append(event)


async def test_declared_frame_types_filter_what_an_observer_sees() -> None:
    sink = Collector(name="sink")
    graph = Graph("g", inputs=[AudioRaw, Transcript, TextToSpeak]).chain(Passthrough(name="p"), sink)
    text_only, everything = TextOnly(), FrameLog()
    async with GraphRun(graph) as run:
        run.add_observer(text_only)
        run.add_observer(everything)
        await run.push(run.make(AudioRaw, audio=b"\0" * 640, sample_rate=16000))
        await run.push(run.make(Transcript, text="hi", final=True))
        await run.push(run.make(TextToSpeak, text="hello"))
        await run.push(run.make(AudioRaw, audio=b"\0" * 640, sample_rate=16000))
    assert {type(e.frame) for e in text_only.events} == {Transcript}
    assert {type(e.frame) for e in everything.events} >= {AudioRaw, Transcript, TextToSpeak}
    assert len([e for e in everything.events if isinstance(e.frame, AudioRaw)]) == 4  # 2 frames x 2 pushes
    assert len(text_only.events) == 2
