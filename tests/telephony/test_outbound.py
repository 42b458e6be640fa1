"""Outbound calls through the twilio SDK against the fake Twilio, played against our running agent.

The fake plays each call as Twilio would: status callbacks, async AMD, the Media
Stream opened to our server with a simulated callee speaking Piper audio at real
time. Our side follows the callbacks (signature checked) into the call record.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path

from tests.telephony.conftest import line_env
from voiceflow.pipeline import Pipeline
from voiceflow.sim.speech import synthesize
from voiceflow.telephony.live import OutboundScript
from voiceflow.testing.fakes.twilio_callee import Callee

SCRIPT = OutboundScript(
    opening="Hi {name}, this is Acme Home calling about your delivery.",
    voicemail="Hello {name}, this is Acme Home. Your delivery is ready. Please call us back. Goodbye.",
    name="Dana",
    fields={"order": "1002"},
)


def record(db: Path, sid: str) -> sqlite3.Row:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    row = conn.execute("SELECT * FROM call_records WHERE call_sid = ?", (sid,)).fetchone()
    conn.close()
    return row


async def test_a_person_answers_and_the_agent_converses(
    tmp_path: Path, offline_pipeline: Callable[[], Pipeline]
) -> None:
    async with line_env(tmp_path, offline_pipeline()) as env:
        number = "+13125550101"
        env.twilio.callees[number] = Callee(
            "human", script=(synthesize("Hello?"), synthesize("Thanks, goodbye.")), linger_s=6
        )
        opened: list[dict[str, object]] = []
        env.calls.on_open.append(lambda session: opened.append(session.ctx.metadata))
        live = await env.telephony.call(number, SCRIPT)
        end = await asyncio.wait_for(live.ended, 60)
        fake = env.twilio.calls[live.sid]
        watcher = await env.watchers.get(live.sid)
    turn = watcher.take()
    said = " ".join(turn.said).lower()
    assert "hi dana, this is acme home" in said, turn
    assert end.status == "completed" and end.answered_by == "human"
    row = record(tmp_path / "campaigns.db", live.sid)
    assert (row["status"], row["answered_by"], row["amd_source"], row["outcome"]) == (
        "completed",
        "human",
        "twilio",
        "conversation",
    )
    assert row["duration_s"] == fake.duration > 0
    # every callback the fake posted was signed, accepted, and in order
    assert [c.params["CallStatus"] for c in fake.callbacks_of("status")] == [
        "initiated",
        "ringing",
        "in-progress",
        "completed",
    ]
    assert all(c.status == 200 for c in fake.callbacks)
    assert fake.stream_parameters[0]["direction"] == "outbound"
    assert fake.played.heard  # the callee heard the agent
    # the agent's pipeline was told who it is talking to (name, number, custom fields)
    assert opened[0]["contact"] == {"phone": number, "name": "Dana", "order": "1002"}
