"""Barge-in: sustained caller speech over the agent interrupts once; a cough does not."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from voiceflow.frames import (
    BotStartedSpeaking,
    BotStoppedSpeaking,
    Interrupt,
    PlayoutReport,
    ResumeSpeaking,
    TTSAudio,
    VoicePaused,
    VoiceStarted,
    VoiceStopped,
)
from voiceflow.graphs import Collector, Graph, GraphRun, VirtualClock
from voiceflow.processors import Processor
from voiceflow.processors.audio.bargein import BargeIn


class Speaker(Processor):
    """Stands in for the output transport: reports playout upstream, counts interrupts it receives."""

    produces = (BotStartedSpeaking, BotStoppedSpeaking)

    def __init__(self) -> None:
        super().__init__(name="speaker")
        self.interrupts: list[Interrupt] = []

    async def on_interrupt(self, frame: Interrupt) -> None:
        self.interrupts.append(frame)

    async def playing(self, on: bool) -> None:
        await self.push_up(self.run.make(BotStartedSpeaking if on else BotStoppedSpeaking))


@dataclass
class Call:
    run: GraphRun
    clock: VirtualClock
    barge: BargeIn
    speaker: Speaker
    sink: Collector

    async def user(self, speaking: bool) -> None:
        await self.run.push(self.run.make(VoiceStarted if speaking else VoiceStopped))
        await self.clock.advance(0)

    async def bot(self, speaking: bool) -> None:
        await self.speaker.playing(speaking)
        await self.clock.advance(0)


@pytest.fixture
async def call() -> AsyncIterator[Call]:
    clock = VirtualClock()
    barge, speaker, sink = BargeIn(name="barge", min_speech_secs=0.3), Speaker(), Collector(name="sink")
    g = Graph("t", inputs=[VoiceStarted, VoiceStopped, TTSAudio]).chain(barge, speaker, sink)
    async with GraphRun(g, clock=clock) as run:
        yield Call(run, clock, barge, speaker, sink)


async def test_sustained_speech_over_the_bot_interrupts_exactly_once(call: Call) -> None:
    await call.bot(True)
    assert call.barge.bot_speaking
    await call.user(True)
    await call.clock.advance(0.29)
    assert call.speaker.interrupts == []
    await call.clock.advance(0.02)
    await call.clock.advance(2.0)  # still talking: no second interrupt for the same onset
    assert len(call.speaker.interrupts) == 1 and call.barge.interruptions == 1
    assert call.run.generation.value == 1
    # user events are forwarded untouched
    assert len(call.sink.of(VoiceStarted)) == 1


async def test_a_cough_shorter_than_the_minimum_does_not_interrupt(call: Call) -> None:
    await call.bot(True)
    await call.user(True)
    await call.clock.advance(0.2)
    await call.user(False)
    await call.clock.advance(2.0)
    assert call.speaker.interrupts == [] and call.run.generation.value == 0


async def test_each_new_onset_can_interrupt_again(call: Call) -> None:
    for _ in range(2):
        await call.bot(True)
        await call.user(True)
        await call.clock.advance(0.5)
        await call.user(False)
        await call.bot(False)
    assert len(call.speaker.interrupts) == 2 and call.run.generation.value == 2


async def test_no_interrupt_when_the_bot_is_silent_or_stops_first(call: Call) -> None:
    await call.user(True)  # bot silent
    await call.clock.advance(1.0)
    await call.user(False)
    await call.bot(True)
    await call.user(True)
    await call.clock.advance(0.1)
    await call.bot(False)  # the agent finished on its own before the onset was confirmed
    await call.clock.advance(1.0)
    assert call.speaker.interrupts == []


async def test_stale_agent_audio_stops_after_barge_in(call: Call) -> None:
    def audio(gen: int) -> TTSAudio:
        return call.run.make(TTSAudio, audio=bytes(320), sample_rate=8000, utterance_id=1, generation=gen)

    await call.bot(True)
    await call.run.push(audio(0))
    await call.clock.advance(0)
    await call.user(True)
    await call.clock.advance(0.4)
    assert call.run.generation.value == 1
    for _ in range(3):
        await call.run.push(audio(0))  # the old reply is still streaming in
    await call.run.push(audio(1))  # the new turn's reply
    await call.clock.advance(0)
    assert [f.generation for f in call.sink.of(TTSAudio)] == [0, 1]
    assert call.run.dropped_stale + sum(s["dropped_stale"] for s in call.run.stats().values()) == 3


# -- fast stop at the onset, resume after a false alarm -------------------------------------------
class Playout(Speaker):
    """Also reports, as an output transport does on a clear, how much of an utterance was heard."""

    produces = (BotStartedSpeaking, BotStoppedSpeaking, PlayoutReport)

    def __init__(self) -> None:
        super().__init__()
        self.heard_ms = 1234.5

    async def on_interrupt(self, frame: Interrupt) -> None:
        await super().on_interrupt(frame)
        report = PlayoutReport(utterance_id=7, played_ms=self.heard_ms, finished=False, mark="clear")
        await self.push_up(report)
        await self.push_up(BotStoppedSpeaking())


@pytest.fixture
async def fast() -> AsyncIterator[Call]:
    clock = VirtualClock()
    barge = BargeIn(name="barge", min_speech_secs=0, resume=True, confirm_secs=0.6, resume_after_secs=0.3)
    speaker, sink = Playout(), Collector(name="sink")
    g = Graph("t", inputs=[VoiceStarted, VoiceStopped, TTSAudio]).chain(barge, speaker, sink)
    async with GraphRun(g, clock=clock) as run:
        yield Call(run, clock, barge, speaker, sink)


async def voice(call: Call, secs: float) -> None:
    """The caller makes a sound: onset report, ``secs`` of voice, the VAD's stop 0.25 s later."""
    await call.user(True)
    await call.clock.advance(secs)
    voiced = call.clock.now()
    await call.clock.advance(0.25)
    await call.run.push(call.run.make(VoiceStopped, last_voiced_at=voiced))
    await call.clock.advance(0)


async def test_onset_stops_the_agent_at_once_and_marks_the_onset(fast: Call) -> None:
    await fast.bot(True)
    await fast.user(True)
    assert len(fast.speaker.interrupts) == 1  # no wait: the onset report itself stops the agent
    (onset,) = fast.sink.of(VoiceStarted)
    assert onset.over_agent


async def test_a_cough_resumes_the_agent_from_the_played_position(fast: Call) -> None:
    await fast.bot(True)
    await voice(fast, 0.2)
    assert fast.sink.of(ResumeSpeaking) == []  # judged only once nothing followed
    await fast.clock.advance(0.3)
    (resume,) = fast.sink.of(ResumeSpeaking)
    assert (resume.utterance_id, resume.from_ms) == (7, fast.speaker.heard_ms)
    assert fast.barge.false_interruptions == 1 and fast.barge.resumes == 1


async def test_speech_longer_than_the_confirm_window_is_a_real_interruption(fast: Call) -> None:
    await fast.bot(True)
    await voice(fast, 0.8)
    await fast.clock.advance(2.0)
    assert fast.sink.of(ResumeSpeaking) == [] and fast.barge.false_interruptions == 0


async def test_more_voice_right_after_the_sound_is_not_a_false_alarm(fast: Call) -> None:
    await fast.bot(True)
    await voice(fast, 0.2)
    await fast.clock.advance(0.1)
    await voice(fast, 0.2)  # "no ... wait": the caller goes on within the resume window
    await fast.clock.advance(2.0)
    assert fast.sink.of(ResumeSpeaking) == []


async def test_no_resume_when_something_else_interrupted_meanwhile(fast: Call) -> None:
    await fast.bot(True)
    await voice(fast, 0.2)
    await fast.sink.interrupt()  # e.g. the endpointer reopening the previous turn
    await fast.clock.advance(1.0)
    assert fast.sink.of(ResumeSpeaking) == [] and fast.barge.false_interruptions == 0


# -- voice back just as a reply starts: stop at the first voiced window ------------------------------
@pytest.fixture
async def early() -> AsyncIterator[Call]:
    clock = VirtualClock()
    barge = BargeIn(name="barge", min_speech_secs=0, resume=True, resume_after_secs=0.3, early_stop_secs=0.8)
    speaker, sink = Playout(), Collector(name="sink")
    g = Graph("t", inputs=[VoiceStarted, VoiceStopped, VoicePaused, TTSAudio]).chain(barge, speaker, sink)
    async with GraphRun(g, clock=clock) as run:
        yield Call(run, clock, barge, speaker, sink)


async def voice_back(call: Call) -> None:
    """The VAD's first voiced window (before it confirms an onset)."""
    await call.run.push(call.run.make(VoicePaused, resumed=True))
    await call.clock.advance(0)


async def test_voice_back_as_a_reply_starts_stops_it_and_the_onset_keeps_it_stopped(early: Call) -> None:
    await early.bot(True)
    await early.clock.advance(0.1)
    await voice_back(early)
    assert len(early.speaker.interrupts) == 1 and early.barge.early_stops == 1  # no onset needed
    await early.clock.advance(0.16)
    await voice(early, 1.0)  # the onset is confirmed: the caller goes on
    await early.clock.advance(2.0)
    assert early.sink.of(ResumeSpeaking) == [] and early.barge.false_interruptions == 0


async def test_voice_back_with_no_onset_after_it_resumes_the_reply(early: Call) -> None:
    await early.bot(True)
    await early.clock.advance(0.1)
    await voice_back(early)
    await early.clock.advance(0.3)
    (resume,) = early.sink.of(ResumeSpeaking)
    assert (resume.utterance_id, resume.from_ms) == (7, early.speaker.heard_ms)
    assert early.barge.false_interruptions == 1


async def test_voice_back_later_in_the_reply_or_while_silent_waits_for_an_onset(early: Call) -> None:
    await voice_back(early)  # the agent is silent: nothing to stop
    await early.bot(True)
    await early.clock.advance(0.9)  # the reply has been heard for longer than early_stop_secs
    await voice_back(early)
    assert early.speaker.interrupts == [] and early.barge.early_stops == 0


# -- words over the agent: stop for good and answer ------------------------------------------------
@pytest.mark.parametrize(
    ("said", "resumed"), [("no", False), ("wait", False), ("stop", False), ("mm-hmm", True)]
)
async def test_a_short_word_over_the_agent_stops_it_for_good_a_backchannel_resumes_it(
    said: str, resumed: bool
) -> None:
    from voiceflow.frames import Transcript, UserStoppedSpeaking
    from voiceflow.processors.audio.turns import Endpointer

    clock = VirtualClock()
    barge = BargeIn(name="barge", min_speech_secs=0, resume=True, confirm_secs=0.6, resume_after_secs=0.3)
    ep = Endpointer(name="ep")
    speaker, sink = Playout(), Collector(name="sink")
    g = Graph("t", inputs=[VoiceStarted, VoiceStopped, Transcript]).chain(barge, ep, speaker, sink)
    async with GraphRun(g, clock=clock) as run:
        await speaker.playing(True)
        await clock.advance(0)
        await run.push(run.make(VoiceStarted))
        await clock.advance(0.3)  # a short word, as short as a cough
        voiced = clock.now()
        await run.push(run.make(Transcript, text=said, final=True))  # the STT's final at the pause
        await clock.advance(0.25)
        await run.push(run.make(VoiceStopped, last_voiced_at=voiced))
        await clock.advance(3.0)
    assert bool(sink.of(ResumeSpeaking)) is resumed
    finals = [f.text for f in sink.of(Transcript) if f.final]
    assert finals == ([] if resumed else [said])  # the words are answered, a backchannel is not
    assert len(sink.of(UserStoppedSpeaking)) == 1
