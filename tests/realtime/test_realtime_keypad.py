"""Keypad presses on a realtime call over the real Twilio path, read as the cascaded agent reads them.

``0`` is the operator: ``transfer_to_human`` runs through the call's tracker (a row in the
real SQLite queue, or the team's closed-now answer) and the model announces it; other keys
make one entry (``#`` or a pause ends it) that reaches the model as the caller's text turn.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.realtime.helpers import eventually, realtime_agent
from voiceflow.sim.twilio_client import TwilioMediaClient
from voiceflow.testing.fakes.openai_realtime import FakeRealtimeServer


async def test_keypad_zero_transfers_to_a_person_and_an_entry_reaches_the_model(tmp_path: Path) -> None:
    async with FakeRealtimeServer(api_key="test-key") as fake, realtime_agent(tmp_path, fake) as agent:
        async with TwilioMediaClient(agent.url, caller="+15550100021") as call:
            watcher = await agent.watchers.get(call.call_sid)
            await call.wait_for_reply(timeout=30)
            watcher.take()
            realtime = agent.realtime(call.call_sid)
            # an entry: "1", "0", "0", "2" then '#': one user text turn, one response
            for key in "1002#":
                await call.send_dtmf(key)
            await eventually(lambda: fake.of_type("conversation.item.create"), what="the keypad entry")
            item = fake.of_type("conversation.item.create")[0]["item"]
            assert item["role"] == "user" and "typed 1002 on the phone keypad" in item["content"][0]["text"]
            await call.wait_for_reply(timeout=30)
            watcher.take()
            sent_before = len(fake.of_type("response.create"))
            pressed_at = call.clock.now()
            await call.send_dtmf("0")  # the operator key
            reply = await call.wait_for_reply(after=pressed_at, timeout=30)
            assert reply.frames > 25
            turn = watcher.take()
            transfers = [t for t in turn.tools if t.startswith("transfer_to_human(")]
            assert len(transfers) == 1, turn
            assert realtime.tracker.executed == 1  # run once, through the call's tracker
            items = [e["item"] for e in fake.of_type("conversation.item.create")][1:]
            assert [i["type"] for i in items] == ["function_call", "function_call_output"]
            assert items[0]["name"] == "transfer_to_human" and items[0]["call_id"] == items[1]["call_id"]
            assert len(fake.of_type("response.create")) == sent_before + 1
            closed = '"department_closed"' in items[1]["output"]
            if not closed:
                assert any("putting you through" in s for s in turn.said), turn
    with sqlite3.connect(agent.db_path) as db:
        queued = db.execute("SELECT department FROM transfers").fetchall()
    assert queued == ([] if closed else [("customer_service",)])
