"""A confirmed turn the caller goes on with writes nothing: side effects wait for the turn to settle.

The Endpointer confirms a provisional end of turn when its silence window runs out, and the
reply may play; but the caller can still continue the turn for ``continuation_secs`` (both
parts then become one turn). A database write cannot be cleared from the line like audio, so
tools with side effects wait until that window has passed (real Endpointer, dialogue and
SQLite file, on the virtual clock).
"""

from __future__ import annotations

from tests.dialogue.dialogue_helpers import FixedNow, bookings, make_policy, said, say
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
from voiceflow.processors.speculation import ReplyGate, Speculation

DAY = "2025-12-02"
BOOK = said(
    "schedule_appointment",
    "book a dental checkup next Tuesday at 3 pm for Jane Doe",
    date=DAY,
    time="15:00",
    name="Jane Doe",
    purpose="a dental checkup",
)


async def test_the_effects_ticket_waits_for_the_continuation_window_and_fails_on_a_continuation() -> None:
    clock, sink, spec = VirtualClock(10.0), Collector(name="sink"), Speculation()
    ep = Endpointer(name="ep", continuation_secs=1.5, speculation=spec)
    g = Graph("t", inputs=[VoiceStarted, VoiceStopped, Transcript]).chain(ep, sink)
    async with GraphRun(g, clock=clock) as run:
        await say(run, clock, "Yes.")
        effects = spec.effects_ticket()
        assert effects is not None and spec.pending
        await clock.advance(0.5)
        assert spec.confirmed == 1 and not effects.done()  # the reply may play, the write waits
        await clock.advance(1.5)
        assert effects.done() and effects.result() is True  # nobody went on: settled

        await say(run, clock, "Yes.")
        effects = spec.effects_ticket()
        await clock.advance(0.5)
        assert spec.confirmed == 2 and effects is not None and not effects.done()
        await say(run, clock, "Actually, make it Wednesday.")  # 0.5 s after the end: a continuation
        assert ep.continuations == 1 and effects.done() and effects.result() is False
        assert [f.continues for f in sink.of(UserStartedSpeaking)][-1] is True
        await clock.advance(3.0)
        assert len([s for s in sink.of(UserStoppedSpeaking) if not s.provisional]) == 0


async def test_a_booking_confirmed_then_continued_is_not_written_and_one_left_alone_is(
    db: Database, now: FixedNow
) -> None:
    clock, sink, spec = VirtualClock(10.0), Collector(name="sink"), Speculation()
    ep = Endpointer(name="endpointer", continuation_secs=1.5, speculation=spec)
    policy = make_policy(db, now, speculation=spec)
    g = Graph("call", inputs=[VoiceStarted, VoiceStopped, Transcript, Intent]).chain(
        ep, policy, ReplyGate(spec, name="gate"), sink
    )
    async with GraphRun(g, clock=clock) as run:
        await run.push(run.make(Intent, confidence=0.9, **BOOK))
        await clock.advance(0.5)
        assert sink.of(TextToSpeak)[-1].text.endswith("Shall I book it?")

        await say(run, clock, "Yes.", "affirm")
        await clock.advance(0.6)  # the end is confirmed (0.3 s window), the write waits
        assert spec.confirmed == 1 and "15:00" not in await bookings(db, DAY)
        await say(run, clock, "Wait, no, not Tuesday.")  # the caller goes on within the window
        await clock.advance(3.0)
        assert ep.continuations == 1
        assert "15:00" not in await bookings(db, DAY)  # the first part's "yes" wrote nothing
        assert not [r for r in sink.of(ToolResult) if r.tool == "schedule_appointment" and r.status == "done"]

        await run.push(run.make(Intent, confidence=0.9, **BOOK))  # asked again, and this time ...
        await clock.advance(0.5)
        await say(run, clock, "Yes.", "affirm")
        await clock.advance(1.0)
        assert "15:00" not in await bookings(db, DAY)  # ... still inside the continuation window
        await clock.advance(1.5)  # ... left alone: written once the window has passed
        assert (await bookings(db, DAY))["15:00"][1] == "Jane Doe"
        await clock.advance(0.5)
        assert sink.of(TextToSpeak)[-1].text.startswith("You're all set")
