"""Continuation: the caller goes on just after the turn was judged over -> one turn, reply cancelled."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from voiceflow.frames import (
    Frame,
    Transcript,
    UserStartedSpeaking,
    UserStoppedSpeaking,
    VoiceStarted,
    VoiceStopped,
)
from voiceflow.graphs import Collector, Graph, GraphRun, VirtualClock
from voiceflow.processors.audio.turns import Endpointer


@dataclass
class Bench:
    run: GraphRun
    clock: VirtualClock
    sink: Collector
    ep: Endpointer

    async def say(self, ftype: type[Frame], **fields: object) -> None:
        await self.run.push(self.run.make(ftype, **fields))
        await self.clock.advance(0)

    async def speak(self, text: str) -> None:
        await self.say(VoiceStarted)
        await self.clock.advance(1.0)
        voiced = self.clock.now()
        await self.say(Transcript, text=text, final=True)
        await self.clock.advance(0.25)
        await self.say(VoiceStopped, last_voiced_at=voiced)

    def finals(self) -> list[str]:
        return [f.text for f in self.sink.of(Transcript) if f.final]

    def starts(self) -> list[bool]:
        return [f.continues for f in self.sink.of(UserStartedSpeaking)]


@pytest.fixture
async def bench() -> AsyncIterator[Bench]:
    clock = VirtualClock(10.0)
    sink = Collector(name="sink")
    ep = Endpointer(name="ep", continuation_secs=1.5)
    g = Graph("t", inputs=[VoiceStarted, VoiceStopped, Transcript]).chain(ep, sink)
    async with GraphRun(g, clock=clock) as run:
        yield Bench(run, clock, sink, ep)


async def test_caller_going_on_after_the_end_makes_one_turn_and_cancels_the_reply(bench: Bench) -> None:
    await bench.speak("I have a question about my order.")
    await bench.clock.advance(0.6)  # the complete-looking sentence ended the turn after 0.3 s
    assert len(bench.sink.of(UserStoppedSpeaking)) == 1
    generation = bench.run.generation.value
    await bench.speak("It is order one zero zero two.")
    await bench.clock.advance(3.0)
    assert bench.run.generation.value == generation + 1  # the reply to the first half is stale
    assert bench.ep.continuations == 1
    assert bench.starts() == [False, True]
    assert bench.finals() == [
        "I have a question about my order.",
        "I have a question about my order. It is order one zero zero two.",
    ]


async def test_speech_after_the_window_is_a_new_turn(bench: Bench) -> None:
    await bench.speak("What time do you close?")
    await bench.clock.advance(3.0)
    generation = bench.run.generation.value
    await bench.speak("And on Sunday?")
    await bench.clock.advance(3.0)
    assert bench.run.generation.value == generation and bench.ep.continuations == 0
    assert bench.starts() == [False, False]
    assert bench.finals() == ["What time do you close?", "And on Sunday?"]


async def test_off_by_default() -> None:
    clock, sink = VirtualClock(), Collector(name="sink")
    ep = Endpointer(name="ep")
    g = Graph("t", inputs=[VoiceStarted, VoiceStopped, Transcript]).chain(ep, sink)
    async with GraphRun(g, clock=clock) as run:
        for text in ("Hello.", "Is anyone there?"):
            await run.push(run.make(VoiceStarted))
            await run.push(run.make(Transcript, text=text, final=True))
            await run.push(run.make(VoiceStopped, last_voiced_at=clock.now()))
            await clock.advance(0.35)
        await clock.advance(2.0)
    assert ep.continuations == 0
    assert [f.text for f in sink.of(Transcript) if f.final] == ["Hello.", "Is anyone there?"]


async def test_talking_over_a_reply_already_heard_is_a_new_turn_not_a_continuation(bench: Bench) -> None:
    await bench.speak("What time do you close on Saturday?")
    await bench.clock.advance(0.4)
    # the caller has heard 0.9 s of the answer when they cut in (BargeIn marks the onset)
    await bench.say(VoiceStarted, over_agent=True, agent_audible_secs=0.9)
    await bench.clock.advance(1.0)
    voiced = bench.clock.now()
    await bench.say(Transcript, text="Sorry, can I talk to a person please?", final=True)
    await bench.clock.advance(0.25)
    await bench.say(VoiceStopped, last_voiced_at=voiced)
    await bench.clock.advance(3.0)
    assert bench.ep.continuations == 0 and bench.starts() == [False, False]
    assert bench.finals()[-1] == "Sorry, can I talk to a person please?"


async def test_going_on_while_the_reply_has_barely_started_is_a_continuation(bench: Bench) -> None:
    await bench.speak("I want to book an appointment.")
    await bench.clock.advance(0.4)
    await bench.say(VoiceStarted, over_agent=True, agent_audible_secs=0.2)
    await bench.clock.advance(1.0)
    voiced = bench.clock.now()
    await bench.say(Transcript, text="Next Tuesday at three.", final=True)
    await bench.clock.advance(0.25)
    await bench.say(VoiceStopped, last_voiced_at=voiced)
    await bench.clock.advance(3.0)
    assert bench.ep.continuations == 1
    assert bench.finals()[-1] == "I want to book an appointment. Next Tuesday at three."
