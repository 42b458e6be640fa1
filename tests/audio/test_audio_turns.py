"""Endpointing on the virtual clock: one end of turn per utterance, windows set by the text."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from voiceflow.frames import (
    End,
    EndOfTurnScore,
    Frame,
    Transcript,
    UserStartedSpeaking,
    UserStoppedSpeaking,
    VoiceStarted,
    VoiceStopped,
)
from voiceflow.graphs import Collector, Graph, GraphRun, VirtualClock
from voiceflow.processors.audio.turns import Endpointer, default_completeness, trailing_hold


@dataclass
class Bench:
    run: GraphRun
    clock: VirtualClock
    sink: Collector
    ep: Endpointer

    async def say(self, *frames: tuple[type[Frame], dict[str, object]]) -> None:
        for ftype, fields in frames:
            await self.run.push(self.run.make(ftype, **fields))
        await self.clock.advance(0)

    async def speak(self, text: str | None = None, *, final: bool = True) -> float:
        """Caller starts, (STT text), VAD stops 0.25 s after the last voice; returns last_voiced_at."""
        await self.say((VoiceStarted, {}))
        await self.clock.advance(1.0)
        voiced = self.clock.now()
        if text is not None:
            await self.say((Transcript, {"text": text, "final": final}))
        await self.clock.advance(0.25)
        await self.say((VoiceStopped, {"last_voiced_at": voiced}))
        return voiced

    def ends(self) -> list[UserStoppedSpeaking]:
        return self.sink.of(UserStoppedSpeaking)  # type: ignore[return-value]

    def finals(self) -> list[str]:
        return [f.text for f in self.sink.of(Transcript) if f.final]  # type: ignore[attr-defined]


@pytest.fixture
async def bench() -> AsyncIterator[Bench]:
    clock = VirtualClock(50.0)
    sink = Collector(name="sink")
    ep = Endpointer(name="ep")
    g = Graph("t", inputs=[VoiceStarted, VoiceStopped, Transcript]).chain(ep, sink)
    async with GraphRun(g, clock=clock) as run:
        yield Bench(run, clock, sink, ep)


async def wait_of(b: Bench, text: str | None) -> float:
    """Seconds from the last voiced audio to the end-of-turn signal."""
    voiced = await b.speak(text)
    await b.clock.advance(5.0)
    (end,) = b.ends()
    assert end.last_voiced_at == voiced
    return round(end.ts - voiced, 6)


async def test_complete_sentence_ends_fast(bench: Bench) -> None:
    assert await wait_of(bench, "I want to check my order.") == 0.3
    assert bench.finals() == ["I want to check my order."]


async def test_complete_looking_without_punctuation_is_in_between(bench: Bench) -> None:
    # completeness 0.6 -> 0.8 - 0.6 * (0.8 - 0.3)
    assert await wait_of(bench, "i want to check my order") == 0.5


async def test_incomplete_text_waits_the_base_window(bench: Bench) -> None:
    assert await wait_of(bench, "i want to") == 0.8


async def test_no_transcript_waits_the_base_window(bench: Bench) -> None:
    assert await wait_of(bench, None) == 0.8


@pytest.mark.parametrize("text", ["my order number is um", "i need to cancel and", "so"])
async def test_trailing_filler_or_conjunction_waits_longer(bench: Bench, text: str) -> None:
    assert await wait_of(bench, text) == 1.6


async def test_one_end_of_turn_per_utterance(bench: Bench) -> None:
    await bench.speak("Yes.")
    await bench.clock.advance(3.0)
    await bench.speak("Tuesday works.")
    await bench.clock.advance(3.0)
    kinds = [type(f).__name__ for f in bench.sink.frames if not isinstance(f, Transcript)]
    assert kinds[1:] == ["UserStartedSpeaking", "UserStoppedSpeaking"] * 2
    assert bench.finals() == ["Yes.", "Tuesday works."]
    assert bench.ep.turns_ended == 2


async def test_resumed_speech_continues_the_turn(bench: Bench) -> None:
    first = await bench.speak("i would like to")
    await bench.clock.advance(0.4)  # within the 0.8 s window (measured from `first`): no end yet
    assert bench.ends() == []
    last = await bench.speak("book an appointment for tuesday.")
    await bench.clock.advance(3.0)
    (end,) = bench.ends()
    assert first < last and end.last_voiced_at == last
    assert bench.finals() == ["i would like to book an appointment for tuesday."]  # one final
    assert len(bench.sink.of(UserStartedSpeaking)) == 1  # the VAD's second start was swallowed


async def test_a_final_read_together_with_the_one_before_replaces_both(bench: Bench) -> None:
    await bench.speak("i would like to")
    await bench.clock.advance(0.4)
    await bench.say((VoiceStarted, {}))
    await bench.clock.advance(1.0)
    voiced = bench.clock.now()
    joined = {"text": "book 10002.", "joins": "i would like to", "joined_text": "I'd like to book 1002."}
    await bench.say((Transcript, joined))
    await bench.clock.advance(0.25)
    await bench.say((VoiceStopped, {"last_voiced_at": voiced}))
    await bench.clock.advance(3.0)
    assert bench.finals() == ["I'd like to book 1002."]
    assert bench.ep.joined_finals == 1


async def test_a_joined_reading_of_a_final_not_in_the_turn_is_ignored(bench: Bench) -> None:
    await bench.speak("i would like to")
    await bench.clock.advance(0.4)
    await bench.say((VoiceStarted, {}))
    await bench.clock.advance(1.0)
    voiced = bench.clock.now()
    await bench.say((Transcript, {"text": "my order.", "joins": "Hi.", "joined_text": "Hi, my order."}))
    await bench.clock.advance(0.25)
    await bench.say((VoiceStopped, {"last_voiced_at": voiced}))
    await bench.clock.advance(3.0)
    assert bench.finals() == ["i would like to my order."] and bench.ep.joined_finals == 0


async def test_transcript_arriving_during_the_wait_retimes_it(bench: Bench) -> None:
    voiced = await bench.speak(None)  # VAD stop with no text yet: base window 0.8 s
    await bench.say((Transcript, {"text": "No thanks.", "final": True}))  # now 0.25 s after voice
    await bench.clock.advance(0.1)
    (end,) = bench.ends()
    assert round(end.ts - voiced, 6) == 0.3


async def test_end_waits_for_a_pending_final(bench: Bench) -> None:
    voiced = await bench.speak("check my", final=False)  # interim only: STT still decoding
    await bench.clock.advance(0.8 + 0.3)
    assert bench.ends() == []  # window over, but the final is due
    await bench.say((Transcript, {"text": "check my order status.", "final": True}))
    (end,) = bench.ends()
    assert round(end.ts - voiced, 6) == 1.35  # ends as soon as the final is in
    assert bench.finals() == ["check my order status."]


async def test_missing_final_times_out_and_the_late_one_is_not_duplicated(bench: Bench) -> None:
    voiced = await bench.speak("cancel my order please", final=False)
    await bench.clock.advance(5.0)
    (end,) = bench.ends()
    # 0.5 s window for a complete-looking 4-word text, then the wait for the final
    assert round(end.ts - voiced, 6) == round(0.5 + bench.ep.final_timeout, 6)
    assert bench.finals() == ["cancel my order please"]  # the interim stood in for it
    await bench.say((Transcript, {"text": "cancel my order please", "final": True}))  # late
    assert bench.finals() == ["cancel my order please"]


async def test_interims_carry_the_whole_turn_text(bench: Bench) -> None:
    await bench.speak("i want")
    await bench.say((VoiceStarted, {}), (Transcript, {"text": "to pay", "final": False}))
    interims = [f.text for f in bench.sink.of(Transcript) if not f.final]  # type: ignore[attr-defined]
    assert interims == ["i want to pay"]


async def test_text_outside_a_turn_passes_through(bench: Bench) -> None:
    await bench.say((Transcript, {"text": "typed text", "final": True}))
    await bench.say((VoiceStopped, {"last_voiced_at": 1.0}))  # stray stop: swallowed
    assert bench.finals() == ["typed text"] and bench.ends() == []


async def test_end_of_run_flushes_an_open_turn() -> None:
    clock, sink = VirtualClock(), Collector(name="sink")
    g = Graph("t", inputs=[VoiceStarted, Transcript]).chain(Endpointer(name="ep"), sink)
    async with GraphRun(g, clock=clock) as run:
        await run.push(run.make(VoiceStarted))
        await run.push(run.make(Transcript, text="hello", final=True))
    kinds = [type(f) for f in sink.frames]
    assert kinds[-3:] == [Transcript, UserStoppedSpeaking, End]


async def test_window_configurable_down_to_200ms() -> None:
    clock, sink = VirtualClock(), Collector(name="sink")
    ep = Endpointer(name="ep", silence_secs=0.2, complete_secs=0.3)
    g = Graph("t", inputs=[VoiceStarted, VoiceStopped]).chain(ep, sink)
    async with GraphRun(g, clock=clock) as run:
        await run.push(run.make(VoiceStarted))
        await clock.advance(1.0)
        await run.push(run.make(VoiceStopped, last_voiced_at=clock.now()))
        await clock.advance(0.19)
        assert sink.of(UserStoppedSpeaking) == []
        await clock.advance(0.02)
        assert len(sink.of(UserStoppedSpeaking)) == 1
    assert ep.window_for("Done.") == 0.2  # never longer than the base window


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        ("I'd like to reschedule.", 1.0, 1.0),
        ("what time is it?", 1.0, 1.0),
        ("yes", 0.9, 0.9),
        ("no thanks", 0.9, 0.9),
        ("i want to change my appointment", 0.5, 0.7),
        ("my number is", 0.0, 0.0),
        ("", 0.0, 0.0),
        ("and so", 0.0, 0.0),
    ],
)
def test_default_completeness(text: str, low: float, high: float) -> None:
    assert low <= default_completeness(text) <= high


def test_trailing_hold_words() -> None:
    assert trailing_hold("I was thinking, um") and trailing_hold("it's broken because")
    assert not trailing_hold("it's broken") and not trailing_hold("")


# -- with the audio model's opinion (EndOfTurnScore) ---------------------------------------------
@pytest.fixture
async def audio_bench() -> AsyncIterator[Bench]:
    clock = VirtualClock(50.0)
    sink = Collector(name="sink")
    ep = Endpointer(name="ep", audio_turn=True)
    g = Graph("t", inputs=[VoiceStarted, VoiceStopped, Transcript, EndOfTurnScore]).chain(ep, sink)
    async with GraphRun(g, clock=clock) as run:
        yield Bench(run, clock, sink, ep)


async def audio_wait(b: Bench, text: str, p: float | None, *, score_after: float = 0.05) -> float:
    voiced = await b.speak(text)  # VoiceStopped 0.25 s after the last voice
    if p is not None:
        await b.clock.advance(score_after)
        await b.say((EndOfTurnScore, {"probability": p, "last_voiced_at": voiced}))
    await b.clock.advance(5.0)
    (end,) = b.ends()
    return round(end.ts - voiced, 6)


async def test_words_and_sound_both_finished_end_fast(audio_bench: Bench) -> None:
    assert await audio_wait(audio_bench, "I want to check my order.", 0.9) == 0.3


async def test_sound_unfinished_waits_longer_than_the_words_alone(audio_bench: Bench) -> None:
    # 0.8 + (0.5 - 0.1) / 0.5 * (1.6 - 0.8)
    assert await audio_wait(audio_bench, "I want to check my order.", 0.1) == 1.44


async def test_sound_finished_but_words_unsure_lets_the_words_decide(audio_bench: Bench) -> None:
    assert await audio_wait(audio_bench, "i want to check my order", 0.9) == 0.5


async def test_no_score_yet_waits_the_base_window_or_a_grace_for_complete_words(audio_bench: Bench) -> None:
    assert await audio_wait(audio_bench, "I want to check my order.", None) == 0.45  # 0.3 + 0.15 grace


async def test_no_score_and_unsure_words_wait_the_base_window(audio_bench: Bench) -> None:
    assert await audio_wait(audio_bench, "i want to check my order", None) == 0.8


async def test_a_late_score_still_shortens_the_wait(audio_bench: Bench) -> None:
    # unsure words wait the base 0.8 s; the score lands 0.25 + 0.3 s after the voice and the
    # words alone then decide (0.5 s): past it, so the turn ends on arrival
    assert await audio_wait(audio_bench, "i want to check my order", 0.9, score_after=0.3) == 0.55


async def test_an_early_score_saying_unfinished_stops_complete_words_ending(audio_bench: Bench) -> None:
    assert await audio_wait(audio_bench, "I want to check my order.", 0.2, score_after=0.05) == 1.28


async def test_a_score_for_another_pause_is_ignored(audio_bench: Bench) -> None:
    voiced = await audio_bench.speak("i want to check my order")
    await audio_bench.say((EndOfTurnScore, {"probability": 0.9, "last_voiced_at": voiced - 3.0}))
    await audio_bench.clock.advance(5.0)
    (end,) = audio_bench.ends()
    assert round(end.ts - voiced, 6) == 0.8


# -- turns over the agent -----------------------------------------------------------------------
async def over_agent(b: Bench, text: str) -> None:
    await b.say((VoiceStarted, {"over_agent": True}))
    await b.clock.advance(0.4)
    voiced = b.clock.now()
    await b.say((Transcript, {"text": text, "final": True}))
    await b.clock.advance(0.25)
    await b.say((VoiceStopped, {"last_voiced_at": voiced}))
    await b.clock.advance(3.0)


@pytest.mark.parametrize("text", ["", "Mm-hmm.", "okay", "uh huh, right"])
async def test_a_backchannel_over_the_agent_is_not_a_turn(bench: Bench, text: str) -> None:
    generation = bench.run.generation.value
    await over_agent(bench, text)
    assert bench.finals() == [] and len(bench.ends()) == 1  # the turn closes with no words
    assert bench.ep.backchannels == 1 and bench.run.generation.value == generation


async def test_words_over_the_agent_are_a_turn_and_stop_any_resumed_audio(bench: Bench) -> None:
    generation = bench.run.generation.value
    await over_agent(bench, "Sorry, what about Sunday?")
    assert bench.finals() == ["Sorry, what about Sunday?"] and bench.ep.backchannels == 0
    assert bench.run.generation.value == generation + 1


async def test_a_backchannel_that_is_not_over_the_agent_is_a_turn(bench: Bench) -> None:
    await bench.speak("Okay.")
    await bench.clock.advance(3.0)
    assert bench.finals() == ["Okay."]
