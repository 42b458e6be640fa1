"""Bad input on the realtime path: each gets a precise error, the call goes on, other calls are untouched.

Malformed and unknown server events, provider error events by type, tool arguments
that are invalid JSON or of the wrong type, caller audio in a wrong format, and bad
settings at start-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from pipelines.realtime import RealtimePipeline
from tests.realtime.helpers import eventually, realtime_agent
from voiceflow.commands.call import start_fake_providers
from voiceflow.config import Config, ConfigError
from voiceflow.frames import AudioRaw
from voiceflow.sim.phone_line import PhoneLine
from voiceflow.sim.speech import synthesize
from voiceflow.sim.twilio_client import TwilioMediaClient
from voiceflow.testing.fakes.openai_realtime import FakeRealtimeServer

HOURS = "What time do you close on Saturday?"


def _call_event(response_id: str, call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {
        "type": "response.function_call_arguments.done",
        "event_id": f"ev_{call_id}",
        "response_id": response_id,
        "item_id": f"item_{call_id}",
        "output_index": 0,
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
    }


async def test_malformed_events_errors_by_type_and_bad_tool_arguments_leave_the_call_going(
    tmp_path: Path,
) -> None:
    async with FakeRealtimeServer(api_key="test-key") as fake, realtime_agent(tmp_path, fake) as agent:
        async with TwilioMediaClient(agent.url, caller="+15550100021") as call, PhoneLine(call) as line:
            watcher = await agent.watchers.get(call.call_sid)
            await call.wait_for_reply(timeout=30)
            realtime = agent.realtime(call.call_sid)
            run = agent.calls.calls[call.call_sid].run
            for bad in (
                "{not json",
                json.dumps({"no": "type"}),
                json.dumps({"type": "mystery.event", "event_id": "ev1"}),
                json.dumps(
                    {"type": "response.output_audio.delta", "response_id": "r", "item_id": "i", "delta": "@@"}
                ),
                json.dumps(
                    {"type": "input_audio_buffer.speech_started", "item_id": "i", "audio_start_ms": "soon"}
                ),
            ):
                await fake.inject(bad)
            for error in (
                {"type": "invalid_request_error", "code": "invalid_value", "message": "Invalid 'item_id'."},
                {"type": "server_error", "code": "server_error", "message": "The server had an error."},
                {"type": "rate_limit_error", "code": "rate_limit_exceeded", "message": "Rate limit reached."},
            ):
                await fake.inject({"type": "error", "event_id": "ev_err", "error": error})
            await eventually(lambda: len(realtime.errors) >= 8, what="every bad event to be read")
            kinds = [(e.kind, e.code) for e in realtime.errors]
            assert kinds == [
                ("malformed", "invalid_json"),
                ("malformed", "no_type"),
                ("malformed", "unknown_event"),
                ("malformed", "bad_field"),
                ("malformed", "bad_field"),
                ("invalid_request", "invalid_value"),
                ("server", "server_error"),
                ("rate_limit", "rate_limit_exceeded"),
            ]
            assert "'audio_start_ms' must be an integer" in realtime.errors[4].message
            messages = [e.message for e in run.errors]
            assert any("Realtime rate_limit error (rate_limit_exceeded)" in m for m in messages)

            # tool arguments the model got wrong: not JSON, and the wrong type
            await fake.inject(_call_event("resp_x", "call_json", "collect_feedback", '{"rating": 5'))
            await fake.inject(_call_event("resp_x", "call_type", "collect_feedback", '{"rating": "five"}'))
            outputs = lambda: {  # noqa: E731
                e["item"]["call_id"]: json.loads(e["item"]["output"])
                for e in fake.of_type("conversation.item.create")
                if e["item"]["type"] == "function_call_output"
            }
            await eventually(lambda: len(outputs()) == 2, what="both tool errors to be sent back")
            assert outputs()["call_json"]["error"]["code"] == "invalid_json"
            assert outputs()["call_type"]["error"]["code"] == "invalid_argument"
            assert "isn't a valid rating" in outputs()["call_type"]["error"]["message"]

            # the call goes on: the next question is answered
            spoken = await line.say(synthesize(HOURS, 16000), 16000)
            await call.wait_for_reply(after=spoken.voiced_end_at, timeout=30)
            assert any(t.startswith("get_business_hours(") for t in watcher.take().tools)
            assert realtime.reconnects == 0 and fake.connections == 1
    with sqlite3.connect(agent.db_path) as db:
        assert db.execute("SELECT COUNT(*) FROM feedback").fetchone() == (0,)  # nothing half-written


async def test_caller_audio_in_a_wrong_format_is_refused_and_the_call_goes_on(tmp_path: Path) -> None:
    async with FakeRealtimeServer(api_key="test-key") as fake, realtime_agent(tmp_path, fake) as agent:
        async with TwilioMediaClient(agent.url, caller="+15550100022") as call, PhoneLine(call) as line:
            watcher = await agent.watchers.get(call.call_sid)
            await call.wait_for_reply(timeout=30)
            run = agent.calls.calls[call.call_sid].run
            await run.push(run.make(AudioRaw, audio=b"\x01\x02\x03", sample_rate=16000), to="realtime")
            await run.push(run.make(AudioRaw, audio=bytes(640), sample_rate=16000, channels=2), to="realtime")
            await run.push(run.make(AudioRaw, audio=bytes(640), sample_rate=1000), to="realtime")
            await eventually(lambda: len(run.errors) >= 3, what="three audio errors")
            messages = [e.message for e in run.errors]
            assert any("whole" in m or "odd" in m or "bytes" in m for m in messages), messages
            assert any("2 channels" in m for m in messages), messages
            assert any("1000 Hz is outside" in m for m in messages), messages
            spoken = await line.say(synthesize(HOURS, 16000), 16000)
            await call.wait_for_reply(after=spoken.voiced_end_at, timeout=30)
            assert any(t.startswith("get_business_hours(") for t in watcher.take().tools)


async def test_one_calls_socket_failing_leaves_the_other_call_on_realtime(tmp_path: Path) -> None:
    async with FakeRealtimeServer(api_key="test-key") as fake, realtime_agent(tmp_path, fake) as agent:
        async with (
            TwilioMediaClient(agent.url, caller="+15550100023") as one,
            TwilioMediaClient(agent.url, caller="+15550100024") as two,
            PhoneLine(two) as line,
        ):
            await asyncio.gather(one.wait_for_reply(timeout=30), two.wait_for_reply(timeout=30))
            first = agent.realtime(one.call_sid)
            second = agent.realtime(two.call_sid)
            victim = fake.sessions[0]
            victim.ws.transport.abort()  # only one of the two sockets drops
            await eventually(lambda: first.reconnects + second.reconnects == 1, what="one reconnect")
            watcher = await agent.watchers.get(two.call_sid)
            watcher.take()
            spoken = await line.say(synthesize(HOURS, 16000), 16000)
            await two.wait_for_reply(after=spoken.voiced_end_at, timeout=30)
            assert any(t.startswith("get_business_hours(") for t in watcher.take().tools)
            assert not agent.calls.calls[one.call_sid].run.done
    assert fake.connections == 3


def test_settings_are_checked_at_start_up() -> None:
    with pytest.raises(ConfigError, match="OPENAI_API_KEY is not set"):
        RealtimePipeline(Config.from_env({}))
    with pytest.raises(ConfigError, match="VOICEFLOW_REALTIME_TURN_DETECTION='push' is not one of"):
        Config.from_env({"VOICEFLOW_REALTIME_TURN_DETECTION": "push"})
    with pytest.raises(ConfigError, match="VOICEFLOW_OPENAI_URL='ftp://x' is not an http"):
        Config.from_env({"VOICEFLOW_OPENAI_URL": "ftp://x"})


async def test_fake_providers_of_a_pipeline_without_fakes_is_a_clear_error() -> None:
    async with contextlib.AsyncExitStack() as stack:
        with pytest.raises(LookupError, match="'echo' has no fake providers"):
            await start_fake_providers("echo", stack)
        with pytest.raises(LookupError, match="no pipeline 'nope'"):
            await start_fake_providers("nope", stack)
        overrides = await start_fake_providers("realtime", stack)
        assert overrides["OPENAI_API_KEY"] and overrides["VOICEFLOW_OPENAI_URL"].startswith(
            "http://127.0.0.1:"
        )
