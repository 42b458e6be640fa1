"""Speculative replies: prepared at the pause, released when the end of turn is confirmed,
and leaving no trace (no tool write, no record, no audio) when the caller goes on."""

from __future__ import annotations

from pathlib import Path

from tests.dialogue.dialogue_helpers import FixedNow, bookings, make_policy, said
from tests.dialogue.dialogue_helpers import say as speak
from voiceflow.db import Database
from voiceflow.frames import (
    Intent,
    TextToSpeak,
    ToolResult,
    Transcript,
    UserStartedSpeaking,
    UserStoppedSpeaking,
    VoiceStarted,
    VoiceStopped,
)
from voiceflow.graphs import Collector, Graph, GraphRun, VirtualClock
from voiceflow.processors.audio.turns import Endpointer
from voiceflow.processors.dialogue import DialoguePolicy
from voiceflow.processors.memory import MemoryRecorder, PersistentUserMemory
from voiceflow.processors.speculation import ReplyGate, Speculation

CALLER = "+15550102030"


async def test_the_turn_ends_provisionally_at_the_pause_and_is_confirmed_by_the_window() -> None:
    clock, sink, spec = VirtualClock(10.0), Collector(name="sink"), Speculation()
    ep = Endpointer(name="ep", continuation_secs=1.5, speculation=spec)
    g = Graph("t", inputs=[VoiceStarted, VoiceStopped, Transcript]).chain(ep, sink)
    async with GraphRun(g, clock=clock) as run:
        await speak(run, clock, "What time do you close on Saturday?")
        (stop,) = sink.of(UserStoppedSpeaking)
        assert stop.provisional and spec.pending  # at the pause, before the window ran out
        assert [f.text for f in sink.of(Transcript) if f.final] == ["What time do you close on Saturday?"]
        await clock.advance(1.0)
        assert not spec.pending and (spec.begun, spec.confirmed, spec.discarded) == (1, 1, 0)
        assert len(sink.of(UserStoppedSpeaking)) == 1 and ep.turns_ended == 1
        # a trailing filler is no end: nothing is prepared for it
        await speak(run, clock, "so I was wondering um")
        assert spec.begun == 1 and len(sink.of(UserStoppedSpeaking)) == 1
        await clock.advance(3.0)
        assert len(sink.of(UserStoppedSpeaking)) == 2 and not sink.of(UserStoppedSpeaking)[1].provisional


async def test_the_caller_going_on_discards_the_prepared_reply_and_makes_one_turn() -> None:
    clock, sink, spec = VirtualClock(10.0), Collector(name="sink"), Speculation()
    ep = Endpointer(name="ep", continuation_secs=1.5, speculation=spec, silence_secs=0.8)
    g = Graph("t", inputs=[VoiceStarted, VoiceStopped, Transcript]).chain(ep, sink)
    async with GraphRun(g, clock=clock) as run:
        generation = run.generation.value
        await run.push(run.make(VoiceStarted))
        await clock.advance(1.0)
        voiced = clock.now()
        await run.push(run.make(Transcript, text="I'd like to book an appointment", final=True))
        await clock.advance(0.25)
        await run.push(run.make(VoiceStopped, last_voiced_at=voiced))
        await clock.advance(0.1)  # still inside the window: the caller goes on
        assert spec.pending
        await speak(run, clock, "next Tuesday at ten.")
        await clock.advance(3.0)
        assert run.generation.value == generation + 1  # the prepared reply was interrupted
        assert (spec.begun, spec.confirmed, spec.discarded) == (2, 1, 1)
        assert [f.continues for f in sink.of(UserStartedSpeaking)] == [False, True]
        assert [f.text for f in sink.of(Transcript) if f.final][-1] == (
            "I'd like to book an appointment next Tuesday at ten."
        )
        assert ep.turns_ended == 1


async def policy_run(db: Database, now: FixedNow, spec: Speculation) -> tuple[Graph, Collector]:
    sink = Collector(name="sink")
    policy = make_policy(db, now, speculation=spec)
    return Graph("call", inputs=[Intent]).chain(policy, ReplyGate(spec, name="gate"), sink), sink


async def test_no_booking_and_no_word_for_a_discarded_turn_and_both_once_confirmed(
    db: Database, now: FixedNow
) -> None:
    spec = Speculation()
    graph, sink = await policy_run(db, now, spec)
    clock = VirtualClock()
    async with GraphRun(graph, clock=clock) as run:
        ask = said(
            "schedule_appointment",
            "book a dental checkup next Tuesday at 3 pm for Jane Doe",
            date="2025-12-02",
            time="15:00",
            name="Jane Doe",
            purpose="a dental checkup",
        )
        await run.push(run.make(Intent, confidence=0.9, **ask))
        await clock.advance(0.5)
        heard = len(sink.of(TextToSpeak))
        assert sink.of(TextToSpeak)[-1].text.endswith("Shall I book it?")

        spec.begin()  # "yes" at a pause: the turn may not be over
        await run.push(run.make(Intent, confidence=0.9, **said("affirm", "yes")))
        await clock.advance(0.5)
        assert not sink.of(ToolResult) and len(sink.of(TextToSpeak)) == heard  # nothing done, nothing said
        spec.discard()  # ... the caller went on
        await run.node("policy").interrupt()
        await clock.advance(0.5)
        assert "15:00" not in await bookings(db, "2025-12-02")
        assert not sink.of(ToolResult) and len(sink.of(TextToSpeak)) == heard

        spec.begin()
        await run.push(run.make(Intent, confidence=0.9, **said("affirm", "yes please")))
        await clock.advance(0.5)
        assert "15:00" not in await bookings(db, "2025-12-02") and len(sink.of(TextToSpeak)) == heard
        spec.confirm()  # the turn is over: what it says may play, but ...
        await clock.advance(0.5)
        assert "15:00" not in await bookings(db, "2025-12-02")  # ... it may still be continued
        spec.settle(True)  # the continuation window passed
        await clock.advance(0.5)
        assert (await bookings(db, "2025-12-02"))["15:00"][1] == "Jane Doe"
        await clock.advance(0.5)  # the write's thread is done: its result and answer go out
        assert [r.tool for r in sink.of(ToolResult)] == ["schedule_appointment"]
        assert sink.of(TextToSpeak)[-1].text.startswith("You're all set")


async def test_a_look_up_runs_while_the_turn_is_undecided(db: Database, now: FixedNow) -> None:
    spec = Speculation()
    graph, sink = await policy_run(db, now, spec)
    clock = VirtualClock()
    async with GraphRun(graph, clock=clock) as run:
        spec.begin()
        ask = said("check_order", "where is order 1001", order_id="1001")
        await run.push(run.make(Intent, confidence=0.9, **ask))
        await clock.advance(0.5)
        policy = run.node("policy")
        assert isinstance(policy, DialoguePolicy)
        tracker = policy.tracker
        assert tracker.executed == 1  # the read ran at once ...
        assert not sink.of(TextToSpeak)  # ... but its answer waits at the gate
        await db.read(lambda c: c.execute("SELECT 1").fetchall())  # the look-up's thread is done
        await clock.advance(0.5)
        assert [r.tool for r in sink.of(ToolResult)] == []  # held at the gate with the answer
        spec.confirm()
        await clock.advance(0.5)
        assert sink.of(TextToSpeak) and "1001" in sink.of(TextToSpeak)[0].text.replace(" ", "")


async def test_memory_records_a_speculative_turn_only_once_confirmed(tmp_path: Path) -> None:
    memory = await PersistentUserMemory.open(tmp_path / "mem.db", business="Acme")
    try:
        spec = Speculation()
        recorder = MemoryRecorder(persistent=memory, speculation=spec)
        graph = Graph("mem", inputs=[Transcript, Intent, TextToSpeak]).chain(recorder, Collector(name="sink"))
        clock = VirtualClock()
        async with GraphRun(graph, clock=clock, metadata={"caller": CALLER, "call_id": "spec-1"}) as run:
            spec.begin()
            await run.push(run.make(Transcript, text="I have a question about my order", final=True))
            first = "I have a question about my order"
            await run.push(run.make(Intent, intent="check_order", confidence=0.9, text=first))
            await clock.advance(0.1)
            assert await memory.turns(CALLER, call_id="spec-1") == []
            spec.discard()
            await clock.advance(0.1)
            whole = "I have a question about my order it's order 1002"
            spec.begin()
            await run.push(run.make(Transcript, text=whole, final=True))
            await run.push(run.make(Intent, intent="check_order", confidence=0.9, text=whole))
            await clock.advance(0.1)
            assert await memory.turns(CALLER, call_id="spec-1") == []
            spec.confirm()
            await clock.advance(0.1)
        turns = await memory.turns(CALLER, call_id="spec-1")
        assert [(t.role, t.text, t.intent) for t in turns] == [("user", whole, "check_order")]
    finally:
        await memory.close()


async def test_a_pause_hint_starts_the_reply_on_the_interim_and_the_final_keeps_or_replaces_it() -> None:
    from voiceflow.frames import VoicePaused

    clock, sink, spec = VirtualClock(10.0), Collector(name="sink"), Speculation()
    ep = Endpointer(name="ep", speculation=spec)
    g = Graph("t", inputs=[VoiceStarted, VoiceStopped, VoicePaused, Transcript]).chain(ep, sink)
    async with GraphRun(g, clock=clock) as run:

        async def utterance(interim: str, final: str, *, resumed: bool = False) -> None:
            await run.push(run.make(VoiceStarted))
            await clock.advance(1.0)
            voiced = clock.now()
            await run.push(run.make(Transcript, text=interim, final=False))
            await clock.advance(0.12)
            await run.push(run.make(VoicePaused, last_voiced_at=voiced))
            await clock.advance(0)
            assert spec.pending and sink.of(UserStoppedSpeaking)[-1].provisional  # before the stop
            if resumed:
                await run.push(run.make(VoicePaused, resumed=True))
                await clock.advance(0)
                assert not spec.pending
                return
            await clock.advance(0.1)
            await run.push(run.make(Transcript, text=final, final=True))
            await run.push(run.make(VoiceStopped, last_voiced_at=voiced))
            await clock.advance(2.0)

        await utterance("where is my order", "where is my order")
        assert (spec.begun, spec.confirmed, spec.discarded) == (1, 1, 0)
        await utterance("where is my order", "where is my daughter")  # the final reads otherwise
        assert (spec.begun, spec.confirmed, spec.discarded) == (3, 2, 1)
        assert [f.text for f in sink.of(Transcript) if f.final][-1] == "where is my daughter"
        await utterance("I want to book", "", resumed=True)  # the voice came back before the stop
        assert (spec.begun, spec.discarded) == (4, 2) and ep.in_turn


async def test_a_write_waiting_for_a_turn_that_is_interrupted_ends_cancelled_not_stuck(
    db: Database, now: FixedNow
) -> None:
    import asyncio

    from voiceflow.processors.tools import CallState

    policy = make_policy(db, now)
    spec = Speculation()
    spec.begin()
    ticket = spec.ticket()
    waiting = asyncio.ensure_future(
        policy.tracker.execute("c-1", "collect_feedback", {"rating": 5}, ticket=ticket)
    )
    await asyncio.sleep(0)
    waiting.cancel()  # the handler awaiting it was interrupted
    await asyncio.gather(waiting, return_exceptions=True)
    call = policy.tracker.get("c-1")
    assert call is not None and call.state is CallState.CANCELLED and policy.tracker.executed == 0


async def test_voice_heard_again_in_the_wait_holds_the_end_until_the_onset_is_decided() -> None:
    from voiceflow.frames import VoicePaused

    clock, sink, spec = VirtualClock(10.0), Collector(name="sink"), Speculation()
    ep = Endpointer(name="ep", speculation=spec, onset_secs=0.3)
    g = Graph("t", inputs=[VoiceStarted, VoiceStopped, VoicePaused, Transcript]).chain(ep, sink)
    async with GraphRun(g, clock=clock) as run:
        await speak(run, clock, "What time do you close on Saturday?")  # the window is 0.3 s
        await run.push(run.make(VoicePaused, resumed=True))  # a voiced window at 0.25 s
        await clock.advance(0.2)
        assert spec.pending  # not confirmed at 0.3 s: an onset may be on its way
        await run.push(run.make(VoiceStarted))  # it is: the caller goes on
        await clock.advance(0)
        assert spec.discarded == 1 and spec.confirmed == 0


async def test_voice_heard_just_after_the_end_holds_the_reply_until_the_onset_is_decided() -> None:
    from voiceflow.frames import VoicePaused

    clock, sink, spec = VirtualClock(10.0), Collector(name="sink"), Speculation()
    ep = Endpointer(name="ep", speculation=spec, onset_secs=0.3, continuation_secs=1.5)
    g = Graph("t", inputs=[VoiceStarted, VoiceStopped, VoicePaused, Transcript]).chain(ep, sink)
    async with GraphRun(g, clock=clock) as run:
        await speak(run, clock, "What time do you close on Saturday?")
        await clock.advance(0.5)
        assert spec.confirmed == 1 and not spec.pending  # the reply is playing
        await run.push(run.make(VoicePaused, resumed=True))  # a voiced window: maybe the caller goes on
        await clock.advance(0)
        held = spec.ticket()
        assert held is not None and spec.held == 1  # the gate holds the reply's next frames
        await clock.advance(0.35)
        assert held.done() and held.result() is True  # no onset followed: it plays on

        await clock.advance(2.0)
        await speak(run, clock, "And on Sunday?")  # a new turn, past the continuation window
        await clock.advance(0.5)
        await run.push(run.make(VoicePaused, resumed=True))
        await clock.advance(0.1)
        held = spec.ticket()
        assert held is not None
        await run.push(run.make(VoiceStarted))  # the onset is confirmed: the caller goes on
        await clock.advance(0)
        assert held.done() and held.result() is False and ep.continuations == 1
        await clock.advance(3.0)
        assert [f.continues for f in sink.of(UserStartedSpeaking)] == [False, False, True]
        assert [f.text for f in sink.of(Transcript) if f.final][-1] == "And on Sunday?"


async def test_an_intent_of_a_turn_continued_before_it_arrived_is_not_answered(
    db: Database, now: FixedNow
) -> None:
    spec = Speculation()
    graph, sink = await policy_run(db, now, spec)
    clock = VirtualClock()
    async with GraphRun(graph, clock=clock) as run:
        policy = run.node("policy")
        assert isinstance(policy, DialoguePolicy)
        await clock.advance(1.0)
        greeted = len(sink.of(TextToSpeak))
        goodbye = run.make(Intent, confidence=0.9, **said("goodbye", "bye"))
        await sink.interrupt()  # the endpointer reopened the turn: "bye" was half of it
        await run.push(goodbye)
        order = said("check_order", "bye, where is order 1002", order_id="1002")
        await run.push(run.make(Intent, confidence=0.9, **order))
        await clock.advance(1.0)
    spoken = [f.text for f in sink.of(TextToSpeak)[greeted:]]  # type: ignore[attr-defined]
    assert policy.superseded_turns == 1
    assert spoken and not [t for t in spoken if "goodbye" in t.lower()], spoken
    assert [t for t in spoken if "1 0 0 2" in t], spoken  # the whole turn is answered
