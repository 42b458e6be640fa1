"""Hostile and broken Twilio peers: ignored or closed cleanly, never a crash, never another call's problem."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from tests.transports.transport_helpers import echo_server, tone
from voiceflow.calls import CallContext
from voiceflow.graphs import Graph
from voiceflow.processors import Processor
from voiceflow.sim.twilio_client import AgentReply, TwilioMediaClient


async def round_trip(call: TwilioMediaClient, seconds: float = 0.4) -> AgentReply:
    spoke_until = await call.send_audio(tone(seconds), sample_rate=16000)
    await call.send_silence(0.4)
    return await call.wait_for_reply(after=spoke_until, timeout=10, quiet_s=0.3)


async def test_garbage_is_ignored_and_a_concurrent_call_is_untouched(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="voiceflow")
    async with echo_server() as (server, factory, state):
        url = server.ws_url("/twilio/media")
        async with TwilioMediaClient(url, caller="good") as good:
            bad = TwilioMediaClient(url, caller="bad")
            await bad.connect(start=False)
            try:
                await bad.send_media(b"\xff" * 160)  # media before start
                await bad.send_dtmf("1")  # dtmf before start
                await bad.send_start()
                sid = bad.stream_sid
                junk: list[str | bytes] = [
                    "not json at all",
                    "[1, 2, 3]",
                    '{"no_event": true}',
                    '{"event": 42}',
                    json.dumps({"event": "bogus", "streamSid": sid}),
                    json.dumps({"event": "media", "streamSid": sid, "media": {"payload": "!!not base64!!"}}),
                    json.dumps({"event": "media", "streamSid": sid, "media": {"payload": 5}}),
                    json.dumps({"event": "media", "streamSid": sid}),
                    json.dumps({"event": "dtmf", "streamSid": sid, "dtmf": {"digit": "X"}}),
                    json.dumps({"event": "mark", "streamSid": sid, "mark": {"name": 5}}),
                    json.dumps({"event": "mark", "streamSid": sid, "mark": {"name": "never-sent"}}),
                    json.dumps({"event": "media", "streamSid": "MZother", "media": {"payload": "//8="}}),
                    json.dumps(
                        {"event": "start", "streamSid": sid, "start": {"streamSid": sid, "callSid": "CAx"}}
                    ),
                    b"\x00\x01 a binary frame",
                ]
                for message in junk:
                    await bad.send_raw(message)

                good_reply, bad_reply = await asyncio.gather(round_trip(good), round_trip(bad))
                assert good_reply.frames > 10 and bad_reply.frames > 10, "both calls still answer"

                bad_errors = " | ".join(e.message for e in factory.calls[bad.call_sid].input.run.errors)
                for expected in (
                    "not valid JSON",
                    "base64",
                    "unknown event",
                    "binary",
                    "DTMF digit",
                    "second 'start'",
                ):
                    assert expected in bad_errors
                assert factory.calls[good.call_sid].input.run.errors == []

                # hostile: an oversized message closes that socket cleanly (1009), nothing else
                huge = json.dumps({"event": "media", "streamSid": sid, "media": {"payload": "A" * 70_000}})
                await bad.send_raw(huge)
                assert await bad.wait_closed(timeout=5) == 1009
            finally:
                await bad.close()
            assert (await round_trip(good)).frames > 10
        await asyncio.sleep(0.1)
    assert state.calls.failed == 0 and len(state.calls) == 0
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], "nothing blew up"


async def test_floods_bad_starts_and_duplicate_calls_are_closed_with_1008() -> None:
    async with echo_server() as (server, _factory, state):
        url = server.ws_url("/twilio/media")
        flood = TwilioMediaClient(url)
        await flood.connect()
        try:
            for _ in range(205):
                await flood.send_raw("garbage")
            assert await flood.wait_closed(timeout=5) == 1008
        finally:
            await flood.close()

        wrong_format = TwilioMediaClient(url)
        await wrong_format.connect(start=False)
        try:
            await wrong_format.send_json(
                {
                    "event": "start",
                    "start": {
                        "streamSid": "MZ1",
                        "callSid": "CA1",
                        "mediaFormat": {"encoding": "audio/l16", "sampleRate": 16000, "channels": 1},
                    },
                }
            )
            assert await wrong_format.wait_closed(timeout=5) == 1008
        finally:
            await wrong_format.close()

        async with TwilioMediaClient(url, call_sid="CAduplicate") as first:
            second = TwilioMediaClient(url, call_sid="CAduplicate")
            await second.connect()
            try:
                assert await second.wait_closed(timeout=5) == 1008
            finally:
                await second.close()
            assert (await round_trip(first, 0.3)).frames > 10
        await asyncio.sleep(0.1)
        assert len(state.calls) == 0


def broken_factory(ctx: CallContext, input: Processor, output: Processor) -> Graph:
    raise RuntimeError("this pipeline cannot be built")


async def test_a_pipeline_that_fails_to_start_closes_with_1011_and_the_server_lives() -> None:
    async with echo_server(broken_factory) as (server, _factory, state):
        call = TwilioMediaClient(server.ws_url("/twilio/media"))
        await call.connect()
        try:
            assert await call.wait_closed(timeout=5) == 1011
        finally:
            await call.close()
        import httpx

        async with httpx.AsyncClient() as http:
            health = (await http.get(f"{server.http_url}/healthz")).json()
        assert health["status"] == "ok" and health["calls"] == 0
        assert state.calls.failed == 1
