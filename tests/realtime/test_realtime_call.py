"""The realtime agent end to end over the real Twilio Media Streams path and the real openai SDK.

Piper speech goes over a real WebSocket as 8 kHz mu-law at real time into the running
server; the Realtime processor sends it to the fake Realtime server (a real socket,
the GA event protocol) as ``audio/pcmu``; the fake's Silero VAD and pocketsphinx hear
it, its rule-based model calls our tools (real SQLite) and speaks with Piper; the
answer comes back over the phone line and is played by the simulated phone.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import sqlite3
from pathlib import Path

from tests.realtime.helpers import eventually, played_ms, realtime_agent
from voiceflow.observability.metrics import render
from voiceflow.processors.tools import CallState
from voiceflow.sim.phone_line import PhoneLine
from voiceflow.sim.speech import synthesize
from voiceflow.sim.twilio_client import TwilioMediaClient
from voiceflow.testing.fakes.openai_realtime import FakeRealtimeServer


async def test_spoken_request_runs_a_tool_in_sqlite_and_the_answer_is_heard(tmp_path: Path) -> None:
    async with FakeRealtimeServer(api_key="test-key") as fake, realtime_agent(tmp_path, fake) as agent:
        async with TwilioMediaClient(agent.url, caller="+15550100001") as call:
            sent = bytearray()  # every mu-law byte the phone sends
            send_media = call.send_media

            async def record(ulaw: bytes) -> None:
                sent.extend(ulaw)
                await send_media(ulaw)

            call.send_media = record  # type: ignore[method-assign]
            async with PhoneLine(call) as line:
                watcher = await agent.watchers.get(call.call_sid)
                greeting = await call.wait_for_reply(timeout=30)
                assert greeting.frames > 50
                assert "thanks for calling" in " ".join(watcher.take().said).lower()
                # audio/pcmu passes through both ways: the phone gets the very bytes the model sent
                # (not decoded and re-encoded: mu-law's two zeros 0x7F and 0xFF would both come back
                # as 0xFF), then mu-law silence padding the last 20 ms frame
                model = bytes(next(iter(fake.sent_audio.values())))
                heard = b"".join(m.ulaw for m in call.media)
                assert heard[: len(model)] == model and set(heard[len(model) :]) <= {0xFF}
                assert all(len(m.ulaw) == 160 for m in call.media)  # paced 20 ms frames

                spoken = await line.say(synthesize("I'd like to leave a rating of four.", 16000), 16000)
                reply = await call.wait_for_reply(after=spoken.voiced_end_at, timeout=30)
                turn = watcher.take()
                assert any(t.startswith("collect_feedback(rating=4") for t in turn.tools), turn
                assert turn.said == ["Thanks for the feedback! I've noted a rating of 4."]
                assert reply.frames > 50  # a real spoken answer came back over the line
            # the caller's mu-law reached the socket as the phone sent it: no decoding, no resampling
            assert len(fake.audio_in) > 0.9 * len(sent) and bytes(fake.audio_in) in bytes(sent)
        latency = watcher.latency.turns
        assert latency and latency[-1].v2v_ms is not None and latency[-1].v2v_ms > 0

    with sqlite3.connect(agent.db_path) as db:
        assert db.execute("SELECT rating FROM feedback").fetchall() == [(4,)]
        # both sides of the call were remembered for the caller
        roles = [r for (r,) in db.execute("SELECT role FROM conversation_turns ORDER BY id")]
    assert roles.count("user") == 1 and roles.count("assistant") == 2
    # rate_limits.updated reached Prometheus through the call's metrics observer
    text = render().decode()
    labels = 'kind="realtime",limit="{}",provider="openai-realtime"'
    assert "voiceflow_provider_rate_limit_remaining{" + labels.format("requests") + "} 999.0" in text
    assert "voiceflow_provider_rate_limit{" + labels.format("tokens") + "} 50000.0" in text
    # what the adapter sent: the GA session, mu-law both ways, the tools, and the tool output
    update = fake.of_type("session.update")[0]["session"]
    assert update["audio"]["input"]["format"] == {"type": "audio/pcmu"}
    assert update["audio"]["output"]["format"] == {"type": "audio/pcmu"}
    assert {t["name"] for t in update["tools"]} >= {"collect_feedback", "search_knowledge_base", "end_call"}
    outputs = [e["item"] for e in fake.of_type("conversation.item.create")]
    assert [o["type"] for o in outputs] == ["function_call_output"]


async def test_the_models_mu_law_reaches_the_phone_byte_for_byte(tmp_path: Path) -> None:
    """Every one of the 256 mu-law byte values, 0x7F included (a decode and re-encode turns it into
    0xFF: both are zero), leaves the Twilio output as the model sent it, in paced 20 ms frames."""
    async with FakeRealtimeServer(api_key="test-key") as fake, realtime_agent(tmp_path, fake) as agent:
        async with TwilioMediaClient(agent.url, caller="+15550100004") as call:
            await call.wait_for_reply(timeout=30)
            before = len(call.media)
            sent = bytes(range(256)) * 5  # 160 ms
            response = {"id": "resp_bytes", "object": "realtime.response", "status": "in_progress"}
            await fake.inject({"type": "response.created", "event_id": "ev_b1", "response": response})
            for i in range(0, len(sent), 300):  # deltas that do not line up with 20 ms frames
                delta = {
                    "type": "response.output_audio.delta",
                    "event_id": f"ev_b2_{i}",
                    "response_id": "resp_bytes",
                    "item_id": "item_bytes",
                    "output_index": 0,
                    "content_index": 0,
                    "delta": base64.b64encode(sent[i : i + 300]).decode(),
                }
                await fake.inject(delta)
            done = response | {"status": "completed", "output": []}
            await fake.inject({"type": "response.done", "event_id": "ev_b3", "response": done})
            await eventually(lambda: len(call.media) >= before + 8, what="the injected audio")
            await asyncio.sleep(0.1)
            frames = call.media[before:]
            heard = b"".join(m.ulaw for m in frames)
            assert heard[: len(sent)] == sent and set(heard[len(sent) :]) <= {0xFF}
            assert [len(m.ulaw) for m in frames] == [160] * 8
            gaps = [b.at - a.at for a, b in itertools.pairwise(frames[5:])]
            assert all(g > 0.005 for g in gaps), gaps  # paced (the lead is 100 ms), not a burst


async def test_barge_in_clears_and_truncates_at_the_played_position(tmp_path: Path) -> None:
    async with FakeRealtimeServer(api_key="test-key") as fake, realtime_agent(tmp_path, fake) as agent:
        async with TwilioMediaClient(agent.url, caller="+15550100002") as call, PhoneLine(call) as line:
            watcher = await agent.watchers.get(call.call_sid)
            await call.wait_for_reply(timeout=30)
            watcher.take()
            spoken = await line.say(synthesize("What time do you close on Saturday?", 16000), 16000)
            await call.wait_for_agent_audio(after=spoken.voiced_end_at, timeout=30)
            answer_from = spoken.voiced_end_at
            await asyncio.sleep(1.5)  # real time on the line: the hours answer is playing
            said_from = call.clock.now()
            over = line.say(synthesize("Sorry, goodbye.", 16000), 16000)
            clear_at = await call.wait_for_clear(after=said_from, timeout=10)
            await over
            heard = played_ms(call.media_after(answer_from), clear_at)
            cut = await fake.wait_truncations(1)
            # the server forgets exactly what the caller did not hear (marks + play clock)
            assert abs(cut.audio_end_ms - heard) <= 40, (cut, heard)
            assert cut.audio_end_ms < cut.audio_ms - 500
            await call.wait_closed(timeout=30)  # goodbye → end_call → the agent hangs up
        said = watcher.take().said
    full = "Monday to Friday 8 AM to 8 PM and Saturday 9 AM to 5 PM"
    cut_text = next(s for s in said if full.startswith(s))
    assert 0 < len(cut_text) < len(full)  # memory keeps only the heard part of the answer
    with sqlite3.connect(agent.db_path) as db:
        texts = [t for (t,) in db.execute("SELECT text FROM conversation_turns WHERE role = 'assistant'")]
    assert cut_text in texts and full not in texts


async def test_a_tool_call_of_a_cancelled_response_is_recorded_cancelled_and_never_runs(
    tmp_path: Path,
) -> None:
    async with FakeRealtimeServer(api_key="test-key") as fake, realtime_agent(tmp_path, fake) as agent:
        async with TwilioMediaClient(agent.url, caller="+15550100003") as call, PhoneLine(call) as line:
            watcher = await agent.watchers.get(call.call_sid)
            await call.wait_for_reply(timeout=30)
            fake.model_latency_s = 2.0  # the model "thinks" while the caller goes on talking
            realtime = agent.realtime(call.call_sid)
            await line.say(synthesize("Where is my order one zero zero two?", 16000), 16000)
            await eventually(lambda: realtime.responding, what="the model's response to start")
            await line.say(synthesize("Sorry, one more thing.", 16000), 16000)
            await eventually(lambda: fake.cancelled, what="the caller's second line to cancel the response")
            rid = fake.cancelled[0]
            assert not fake.of_type("conversation.item.create")  # the order lookup never ran
            # the provider's function call for that response arrives after the cancel (a race)
            await fake.inject(
                {
                    "type": "response.function_call_arguments.done",
                    "event_id": "ev_late",
                    "response_id": rid,
                    "item_id": "item_late",
                    "output_index": 0,
                    "call_id": "call_late",
                    "name": "check_order_status",
                    "arguments": '{"order_id": "1002"}',
                }
            )
            await eventually(lambda: realtime.tracker.state("call_late"), what="the late call")
            assert realtime.tracker.state("call_late") is CallState.CANCELLED
            executed = realtime.tracker.executed
            await fake.inject(  # the same call id again: still cancelled, still not run
                {
                    "type": "response.function_call_arguments.done",
                    "event_id": "ev_again",
                    "response_id": rid,
                    "item_id": "item_late",
                    "output_index": 0,
                    "call_id": "call_late",
                    "name": "check_order_status",
                    "arguments": '{"order_id": "1002"}',
                }
            )
            await asyncio.sleep(0.3)
            assert realtime.tracker.executed == executed
            assert "call_late" not in {
                e["item"].get("call_id") for e in fake.of_type("conversation.item.create")
            }
            assert any("-> cancelled" in t for t in watcher.take().tools)
