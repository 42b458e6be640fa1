"""Bounded parsing on a real server: deep JSON, slow heads and bodies, huge bodies, control characters.

Each case gets its clear answer (400/408/413 with a message, or an ignored
message on a socket that stays open), never a 500, a 1011 or a traceback.
"""

from __future__ import annotations

import asyncio
import json
import logging

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.guard.guard_helpers import guarded_server, page_token, raw_exchange
from tests.transports.transport_helpers import wait_until
from voiceflow.config import GuardSettings
from voiceflow.guard.json_limits import JSONLimitError, json_depth, loads_bounded
from voiceflow.sim.twilio_client import TwilioMediaClient

DEEP = "[" * 50_000 + "]" * 50_000


def test_depth_is_measured_outside_strings_and_bounded() -> None:
    assert json_depth('{"a": [1, {"b": "[[[[["}]}') == 3
    assert loads_bounded('{"a": [1]}', max_bytes=100) == {"a": [1]}
    with pytest.raises(JSONLimitError, match="nests deeper than 32"):
        loads_bounded(DEEP, max_bytes=1 << 20)
    with pytest.raises(JSONLimitError, match="larger than 10 bytes"):
        loads_bounded("[" + "1," * 20 + "1]", max_bytes=10)
    with pytest.raises(JSONLimitError, match="not UTF-8"):
        loads_bounded(b"\xff\xfe", max_bytes=10)


async def test_nested_json_gets_a_clear_answer_everywhere(caplog: pytest.LogCaptureFixture) -> None:
    async with guarded_server() as (server, _echo, state), httpx.AsyncClient() as http:
        token = await page_token(server)
        offer = await http.post(
            f"{server.http_url}/webrtc/offer",
            content=DEEP[:30_000] + DEEP[-30_000:],
            headers={"content-type": "application/json", "x-voiceflow-token": token},
        )
        assert offer.status_code == 400
        assert "nests deeper than 32 levels" in offer.json()["error"]

        async with TwilioMediaClient(server.ws_url("/twilio/media")) as call:
            await call.send_raw(DEEP[:20_000] + DEEP[-20_000:])
            await call.send_dtmf("5")  # the call goes on
            await wait_until(lambda: call.call_sid in state.calls.calls)
            await asyncio.sleep(0.3)
            assert not call.closed

        async with connect(server.ws_url(f"/ws?token={token}")) as ws:
            await ws.send(json.dumps({"type": "start"}))
            assert json.loads(await ws.recv())["type"] == "started"
            await ws.send("[" * 10_000 + "]" * 10_000)
            error = json.loads(await ws.recv())
            assert error["type"] == "error" and "nests deeper" in error["message"]
    assert not [r for r in caplog.records if r.exc_info], "no traceback logged"


async def test_slow_headers_get_408_and_are_closed() -> None:
    guard = GuardSettings(header_timeout_s=0.5)
    async with guarded_server(guard=guard) as (server, _echo, _state):
        partial = b"POST /twilio/voice HTTP/1.1\r\nHost: x\r\nX-Slow: "
        answers = await asyncio.gather(*(raw_exchange(server, partial, wait_s=5) for _ in range(50)))
        assert all(a.startswith(b"HTTP/1.1 408 ") for a in answers), answers[0]
        assert b"request headers not received within 0.5 s" in answers[0]
        async with httpx.AsyncClient() as http:  # a prompt client is served as ever
            assert (await http.get(f"{server.http_url}/healthz")).status_code == 200


async def test_slow_body_gets_408() -> None:
    guard = GuardSettings(body_timeout_s=0.5)
    async with guarded_server(guard=guard) as (server, _echo, _state):
        head = b"POST /twilio/voice HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nCallSid=CA1"
        answer = await raw_exchange(server, head, wait_s=5)
        assert answer.startswith(b"HTTP/1.1 408 ")
        assert b"request body not received within 0.5 s" in answer


async def test_huge_bodies_are_refused_before_they_are_read() -> None:
    async with guarded_server() as (server, _echo, _state):
        declared = b"POST /twilio/voice HTTP/1.1\r\nHost: x\r\nContent-Length: 48000000\r\n\r\n"
        answer = await raw_exchange(server, declared, wait_s=5)  # nothing of the body is sent
        assert answer.startswith(b"HTTP/1.1 413 ") and b"over 16384 bytes" in answer

        chunk = b"2000\r\n" + b"x" * 8192 + b"\r\n"
        chunked = b"POST /twilio/voice HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk * 3
        answer = await raw_exchange(server, chunked, wait_s=5)  # no length declared: counted while read
        assert answer.startswith(b"HTTP/1.1 413 ") and b"over 16384 bytes" in answer

        bad_length = b"POST /webrtc/offer HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n{}"
        assert (await raw_exchange(server, bad_length, wait_s=5)).startswith(b"HTTP/1.1 400 ")


async def test_client_dropping_mid_body_is_normal(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with guarded_server() as (server, _echo, _state):
        for _ in range(20):
            _reader, writer = await asyncio.open_connection(server.host, server.port)
            writer.write(b'POST /webrtc/offer HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n{"sdp"')
            await writer.drain()
            writer.close()
            await writer.wait_closed()
        await asyncio.sleep(0.3)
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"{server.http_url}/healthz")).status_code == 200
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


@pytest.mark.parametrize(
    ("field", "value"),
    [("From", "+1555\x00123"), ("From", "+1555\x1b[31m"), ("CallSid", "CA12\x0b34"), ("From", "x" * 300)],
)
async def test_control_characters_in_webhook_fields_get_400(field: str, value: str) -> None:
    form = {"CallSid": "CA" + "1" * 32, "From": "+15551230001"} | {field: value}
    async with guarded_server() as (server, _echo, _state), httpx.AsyncClient() as http:
        response = await http.post(f"{server.http_url}/twilio/voice", data=form)
        assert response.status_code == 400
        assert field in response.text
        missing = await http.post(f"{server.http_url}/twilio/voice", data={"From": "+1555"})
        assert missing.status_code == 400 and "CallSid is required" in missing.text
