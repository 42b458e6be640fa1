"""Sessions over the real Twilio path: reconnect with the conversation restored, and fallback to the cascade.

A dropped socket (or the session's maximum duration) reopens the session and re-sends
the conversation; when the session cannot be reopened — or opened at all — the call
goes on through the cascaded (offline) graph on the same transport.
"""

from __future__ import annotations

from pathlib import Path

from tests.realtime.helpers import eventually, realtime_agent
from voiceflow.processors.dialogue import DialoguePolicy
from voiceflow.processors.realtime import BRIDGE_LINE, StandbySTT
from voiceflow.sim.phone_line import PhoneLine
from voiceflow.sim.speech import synthesize
from voiceflow.sim.twilio_client import TwilioMediaClient
from voiceflow.testing.fakes.openai_realtime import FakeRealtimeServer

HOURS = "What time do you close on Saturday?"
ORDER = "Where is my order one zero zero two?"


async def test_a_dropped_socket_reconnects_and_restores_the_conversation(tmp_path: Path) -> None:
    async with FakeRealtimeServer(api_key="test-key") as fake, realtime_agent(tmp_path, fake) as agent:
        async with TwilioMediaClient(agent.url, caller="+15550100011") as call, PhoneLine(call) as line:
            watcher = await agent.watchers.get(call.call_sid)
            await call.wait_for_reply(timeout=30)
            spoken = await line.say(synthesize(HOURS, 16000), 16000)
            await call.wait_for_reply(after=spoken.voiced_end_at, timeout=30)
            heard_first = watcher.take().heard
            await fake.drop()  # the network drops the Realtime socket mid-call
            realtime = agent.realtime(call.call_sid)
            await eventually(lambda: realtime.reconnects == 1 and fake.sessions, what="the reconnect")
            spoken = await line.say(synthesize(ORDER, 16000), 16000)
            reply = await call.wait_for_reply(after=spoken.voiced_end_at, timeout=30)
            turn = watcher.take()
            assert any(t.startswith("check_order_status(order_id='1002')") for t in turn.tools), turn
            assert reply.frames > 25
    assert fake.connections == 2
    # the second session got the instructions again, then the first turn's words
    assert len(fake.of_type("session.update")) == 2
    restored = [e["item"] for e in fake.of_type("conversation.item.create") if e["item"]["type"] == "message"]
    assert [i["role"] for i in restored] == ["assistant", "user", "assistant"]  # greeting, question, answer
    assert restored[1]["content"][0]["text"] == heard_first[0]


async def test_a_socket_closing_mid_answer_resumes_the_answer_where_it_was_cut(tmp_path: Path) -> None:
    async with FakeRealtimeServer(api_key="test-key") as fake, realtime_agent(tmp_path, fake) as agent:
        async with TwilioMediaClient(agent.url, caller="+15550100012") as call, PhoneLine(call) as line:
            watcher = await agent.watchers.get(call.call_sid)
            await call.wait_for_reply(timeout=30)
            watcher.take()
            fake.drop_after_audio_deltas = 10  # the next answer is cut after 1 s of audio
            spoken = await line.say(synthesize(HOURS, 16000), 16000)
            await call.wait_for_reply(after=spoken.voiced_end_at, timeout=30, quiet_s=1.5)
            turn = watcher.take()
            realtime = agent.realtime(call.call_sid)
            assert fake.connections == 2 and realtime.resumed == 1
    # the caller heard the answer once: the part that arrived before the drop, then the rest
    full = "Monday to Friday 8 AM to 8 PM and Saturday 9 AM to 5 PM"
    answer = [s for s in turn.said if s in full]
    assert len(answer) == 2 and full.startswith(answer[0] + " "), turn
    assert " ".join(answer).endswith("Saturday 9 AM to 5 PM"), turn
    assert len([t for t in turn.tools if t.startswith("get_business_hours(")]) == 1  # not run again
    # the new session has the cut-off part as the assistant's item, and was asked to go on from it
    restored = [e["item"] for e in fake.of_type("conversation.item.create") if e["item"]["type"] == "message"]
    assert restored[-1]["role"] == "assistant" and restored[-1]["content"][0]["text"] == answer[0]
    resume = fake.of_type("response.create")[-1]["response"]["instructions"]
    assert answer[0] in resume and "without repeating" in resume


async def test_the_session_maximum_duration_reconnects(tmp_path: Path) -> None:
    async with (
        FakeRealtimeServer(api_key="test-key", max_session_s=6.0) as fake,
        realtime_agent(tmp_path, fake) as agent,
    ):
        async with TwilioMediaClient(agent.url, caller="+15550100013") as call, PhoneLine(call) as line:
            watcher = await agent.watchers.get(call.call_sid)
            await call.wait_for_reply(timeout=30)
            realtime = agent.realtime(call.call_sid)
            await eventually(lambda: realtime.reconnects == 1, timeout=15, what="the session to expire")
            assert [e.kind for e in realtime.errors] == ["session_expired"]
            spoken = await line.say(synthesize(HOURS, 16000), 16000)
            await call.wait_for_reply(after=spoken.voiced_end_at, timeout=30)
            assert any(t.startswith("get_business_hours(") for t in watcher.take().tools)


async def test_mid_call_failure_falls_back_to_the_cascaded_graph_on_the_same_call(tmp_path: Path) -> None:
    async with FakeRealtimeServer(api_key="test-key") as fake, realtime_agent(tmp_path, fake) as agent:
        async with TwilioMediaClient(agent.url, caller="+15550100014") as call, PhoneLine(call) as line:
            watcher = await agent.watchers.get(call.call_sid)
            await call.wait_for_reply(timeout=30)
            spoken = await line.say(synthesize(ORDER, 16000), 16000)
            await call.wait_for_reply(after=spoken.voiced_end_at, timeout=30)
            assert any(t.startswith("check_order_status(") for t in watcher.take().tools)
            stt = agent.calls.calls[call.call_sid].run.node("stt")
            assert isinstance(stt, StandbySTT) and stt.standing_by  # no offline stream while realtime
            fake.refuse = True  # the service goes away: the socket drops and cannot be reopened
            dropped_at = call.clock.now()
            await fake.drop()
            bridge = await call.wait_for_reply(after=dropped_at, timeout=30)  # the cascade's TTS speaks
            assert bridge.frames > 50
            mode = agent.calls.calls[call.call_sid].run.node("mode")
            assert not mode.realtime and "could not be reopened" in (mode.reason or "")  # type: ignore[attr-defined]
            assert not stt.standing_by  # opened by the fall-back, for the rest of the call
            # the offline agent's policy took the conversation over: both sides' words so far ...
            dialogue = agent.calls.calls[call.call_sid].run.node("dialogue")
            assert isinstance(dialogue, DialoguePolicy)
            history = dialogue.state.history
            assert [role for role, _ in history] == ["assistant", "user", "assistant"], history
            assert history[2][1] == "Order 1 0 0 2 is in transit.", history
            # ... and what the tools found: "my package" is order 1002, not asked for again
            spoken = await line.say(synthesize("Where is my package?", 16000), 16000)
            reply = await call.wait_for_reply(after=spoken.voiced_end_at, timeout=30)
            turn = watcher.take()
            assert any(t.startswith("check_order_status(order_id='1002')") for t in turn.tools), turn
            assert not any("order number" in s.lower() for s in turn.said), turn
            assert reply.frames > 50
            assert not call.closed
    assert fake.connections == 1


async def test_a_session_that_cannot_open_starts_the_call_on_the_cascaded_graph(tmp_path: Path) -> None:
    async with FakeRealtimeServer(api_key="test-key") as fake, realtime_agent(tmp_path, fake) as agent:
        fake.refuse = True
        async with TwilioMediaClient(agent.url, caller="+15550100015") as call, PhoneLine(call) as line:
            watcher = await agent.watchers.get(call.call_sid)
            greeting = await call.wait_for_reply(timeout=30)  # spoken by the cascade's Piper
            assert greeting.frames > 50
            spoken = await line.say(synthesize(HOURS, 16000), 16000)
            await call.wait_for_reply(after=spoken.voiced_end_at, timeout=30)
            assert any(t.startswith("get_business_hours(") for t in watcher.take().tools)
    assert fake.connections == 0
    assert BRIDGE_LINE  # the mid-call line differs from the greeting a fresh call gets
