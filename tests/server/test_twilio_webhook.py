"""POST /twilio/voice on a real server: TwiML built with the twilio package, optional signature check."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import httpx
from twilio.request_validator import RequestValidator

from tests.transports.transport_helpers import echo_server

FORM = {"CallSid": "CA0123456789abcdef", "From": "+15551230001", "To": "+15559870000", "AccountSid": "AC1"}


def stream_of(twiml: str) -> tuple[str, dict[str, str]]:
    root = ET.fromstring(twiml)
    assert root.tag == "Response"
    connect = root.find("Connect")
    assert connect is not None
    stream = connect.find("Stream")
    assert stream is not None
    params = {p.attrib["name"]: p.attrib["value"] for p in stream.findall("Parameter")}
    return stream.attrib["url"], params


async def test_webhook_answers_connect_stream_with_caller_and_call_sid() -> None:
    async with echo_server() as (server, _factory, _state), httpx.AsyncClient() as http:
        response = await http.post(f"{server.http_url}/twilio/voice", data=FORM)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/xml")
        url, params = stream_of(response.text)
        assert url == f"wss://127.0.0.1:{server.port}/twilio/media"
        token = params.pop("token")
        assert token.count(".") == 2, "a one-time stream token rides along"
        assert params == {"caller": "+15551230001", "call_sid": "CA0123456789abcdef"}

        tricky = FORM | {"From": 'Bob "<&>" Smith'}
        _, params = stream_of((await http.post(f"{server.http_url}/twilio/voice", data=tricky)).text)
        assert params["caller"] == 'Bob "<&>" Smith', "escaped by the TwiML classes"


async def test_public_host_and_signature_validation() -> None:
    token = "test-auth-token"
    host = "voice.example.com"
    async with (
        echo_server(public_host=host, twilio_auth_token=token) as (server, _factory, _state),
        httpx.AsyncClient() as http,
    ):
        endpoint = f"{server.http_url}/twilio/voice"
        signature = RequestValidator(token).compute_signature(f"https://{host}/twilio/voice", FORM)
        ok = await http.post(endpoint, data=FORM, headers={"X-Twilio-Signature": signature})
        assert ok.status_code == 200
        url, _ = stream_of(ok.text)
        assert url == f"wss://{host}/twilio/media"

        forged = await http.post(
            endpoint, data=FORM | {"From": "+1999"}, headers={"X-Twilio-Signature": signature}
        )
        assert forged.status_code == 403
        unsigned = await http.post(endpoint, data=FORM)
        assert unsigned.status_code == 403
        too_big = await http.post(
            endpoint, content=b"x=" + b"a" * 20_000, headers={"X-Twilio-Signature": "x"}
        )
        assert too_big.status_code == 413
