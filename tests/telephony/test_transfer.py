"""A live inbound call moved to a person: by voice (the transfer_to_human tool) and by keypad (0).

The fake Twilio places the inbound call (our signed voice webhook answers
``<Connect><Stream>``), a caller speaks Piper audio to our offline agent, and the
transfer happens as Twilio does it: our server updates the live call with a
``<Dial>``; the fake rings the department's number, fetches the whisper the
person hears (the caller's number, the reason, the queue position) and posts
the dial's result to the ``action`` URL, whose TwiML it then plays.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from tests.telephony.conftest import BILLING, CALLER_ID, SUPPORT, LineEnv, line_env
from tests.telephony.speech import voice
from voiceflow.pipeline import Pipeline
from voiceflow.testing.fakes.twilio_callee import Callee

CALLER = "+13125550188"
MONDAY_MORNING = datetime(2026, 12, 7, 11, 0, tzinfo=ZoneInfo("America/New_York"))  # every team is open


def open_for_business(pipeline: Pipeline) -> Pipeline:
    pipeline.now = lambda: MONDAY_MORNING  # type: ignore[attr-defined]  # the tools' wall clock
    return pipeline


def transfers(env: LineEnv) -> list[sqlite3.Row]:
    conn = sqlite3.connect(env.telephony.db.path)
    conn.row_factory = sqlite3.Row
    rows = conn.execute("SELECT * FROM line_transfers ORDER BY id").fetchall()
    conn.close()
    return rows


async def call_in(env: LineEnv, *steps: bytes | str) -> None:
    caller = Callee("human", script=steps, listens_first=True, linger_s=15)
    call = env.twilio.inbound(
        caller, from_=CALLER, to=CALLER_ID, voice_url=f"{env.server.http_url}/twilio/voice"
    )
    await env.twilio.wait_idle(timeout=90)
    return call  # type: ignore[return-value]


async def test_transferred_by_voice_to_the_department_asked_for(
    tmp_path: Path, offline_pipeline: Callable[[], Pipeline]
) -> None:
    async with line_env(tmp_path, open_for_business(offline_pipeline())) as env:
        call = await call_in(env, voice("Transfer me to billing please."))
        rows = transfers(env)
    fake = env.twilio.calls[call.sid]  # type: ignore[attr-defined]
    assert [d.number for d in fake.dials] == [BILLING]
    dial = fake.dials[0]
    assert dial.answered and dial.caller_id == CALLER_ID
    # the person picking up hears who is calling, why and the queue position
    assert "Caller 1 3 1 2 5 5 5 0 1 8 8" in dial.whisper and "billing" in dial.whisper.lower()
    assert "Queue position 1" in dial.whisper
    assert [(r["department"], r["number"], r["caller"], r["status"]) for r in rows] == [
        ("billing", BILLING, CALLER, "connected")
    ]
    # the caller heard the announcement before the line moved
    assert any(c.kind == "dial_action" and c.params["DialCallStatus"] == "completed" for c in fake.callbacks)
    assert fake.played.heard


async def test_keypad_zero_transfers_and_an_unanswered_transfer_apologises(
    tmp_path: Path, offline_pipeline: Callable[[], Pipeline]
) -> None:
    async with line_env(tmp_path, open_for_business(offline_pipeline())) as env:
        env.twilio.unanswered_numbers.add(SUPPORT)
        call = await call_in(env, "0")
        rows = transfers(env)
    fake = env.twilio.calls[call.sid]  # type: ignore[attr-defined]
    assert [(d.number, d.answered, d.dial_status) for d in fake.dials] == [(SUPPORT, False, "no-answer")]
    assert [(r["department"], r["status"]) for r in rows] == [("customer_service", "no_answer")]
    # nobody answered: the caller is told so and promised a call-back, then the call ends
    assert any("will call you back" in s for s in fake.said)
    assert fake.status == "completed" and fake.hung_up_by == "twiml"
