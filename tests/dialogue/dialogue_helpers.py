"""Scripted calls through a running graph: Intent / DTMF in, what the policy said and did out."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from voiceflow.db import Database
from voiceflow.frames import (
    DTMF,
    Error,
    Intent,
    TextToSpeak,
    ToolCall,
    ToolResult,
    Transcript,
    VoiceStarted,
    VoiceStopped,
)
from voiceflow.graphs import Collector, Graph, GraphRun, VirtualClock
from voiceflow.processors.dialogue import DialoguePolicy

TZ = ZoneInfo("America/New_York")
#: Monday 1 December 2025, 10:00 in New York (seeded bookings: Dec 2 10:00 APT-204817,
#: Dec 2 14:30 APT-318840, Dec 3 09:30 APT-452106, Dec 4 11:00 APT-573391)
MONDAY_10AM = datetime(2025, 12, 1, 10, 0, tzinfo=TZ)


class FixedNow:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


def said(intent: str, text: str = "", *, emotion: str = "neutral", **entities: Any) -> dict[str, Any]:
    """What the NLU would hand over for one utterance."""
    return {
        "intent": intent,
        "text": text or intent.replace("_", " "),
        "emotion": emotion,
        "entities": entities,
    }


async def say(run: GraphRun, clock: VirtualClock, text: str, intent: str | None = None) -> None:
    """The caller speaks ``text`` for a second and stops (the VAD's pause 0.25 s later); with
    ``intent``, the NLU's ``Intent`` for it follows the end."""
    await run.push(run.make(VoiceStarted))
    await clock.advance(1.0)
    voiced = clock.now()
    await run.push(run.make(Transcript, text=text, final=True))
    await clock.advance(0.25)
    await run.push(run.make(VoiceStopped, last_voiced_at=voiced))
    await clock.advance(0)
    if intent is not None:
        await run.push(run.make(Intent, confidence=0.9, **said(intent, text)))
        await clock.advance(0)


async def bookings(db: Database, day: str) -> dict[str, tuple[str, str]]:
    """The day's booked appointments: time -> (confirmation number, name)."""
    rows = await db.read(
        lambda c: c.execute(
            "SELECT time, confirmation_number, name FROM appointments WHERE date = ? AND status = 'booked'",
            (day,),
        ).fetchall()
    )
    return {r[0]: (r[1], r[2]) for r in rows}


def keys(digits: str) -> str:
    """Keypad presses."""
    return digits


@dataclass
class Call:
    replies: list[str] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    results: list[ToolResult] = field(default_factory=list)
    errors: list[Error] = field(default_factory=list)

    @property
    def tools(self) -> list[str]:
        return [name for name, _ in self.calls]

    def result(self, tool: str) -> ToolResult:
        return next(r for r in self.results if r.tool == tool)


async def converse(
    policy: DialoguePolicy, *inputs: dict[str, Any] | str, metadata: dict[str, Any] | None = None
) -> Call:
    """Run one call: every input in order, then drain. One reply per completed input."""
    clock = VirtualClock()
    sink = Collector(name="sink")
    graph = Graph("call", inputs=[Intent, DTMF]).chain(policy, sink)
    async with GraphRun(graph, clock=clock, metadata=metadata) as run:
        for item in inputs:
            if isinstance(item, str):
                for key in item:
                    await run.push(run.make(DTMF, digit=key))
            else:
                await run.push(run.make(Intent, confidence=0.9, **item))
            await clock.advance(0.5)
    call = Call(errors=list(run.errors))
    for frame in sink.frames:
        if isinstance(frame, TextToSpeak):
            call.replies.append(frame.text)
        elif isinstance(frame, ToolCall):
            call.calls.append((frame.tool, dict(frame.arguments)))
        elif isinstance(frame, ToolResult):
            call.results.append(frame)
    return call


def make_policy(db: Database, now: FixedNow, **kwargs: Any) -> DialoguePolicy:
    return DialoguePolicy.for_database(db, now=now, rng=random.Random(7), name="policy", **kwargs)
