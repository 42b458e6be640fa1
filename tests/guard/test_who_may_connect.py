"""Who may connect, on a real server: stream tokens, origins, page tokens, trusted Host, headers, docs.

A stranger opening ``/twilio/media`` directly, or replaying, re-targeting or
re-attributing a webhook's token, is refused with 1008 before anything of a
call is built; browser sockets and offers need an allowed origin and the
page's token; the page carries its security headers; ``/docs`` is off.
"""

from __future__ import annotations

import json

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.guard.guard_helpers import guarded_server, page_token
from tests.transports.transport_helpers import wait_until
from voiceflow.config import ConfigError, GuardSettings, ServerSettings
from voiceflow.guard.tokens import StreamTokens, TokenError, TokenSigner
from voiceflow.server.app import create_app
from voiceflow.sim.twilio_client import TwilioMediaClient

GOOD_CALLER = "+15551230001"


async def test_a_spoofed_start_without_the_webhooks_token_is_refused_and_builds_nothing() -> None:
    async with guarded_server() as (server, echo, state):
        url = server.ws_url("/twilio/media")
        stranger = TwilioMediaClient(url, caller=GOOD_CALLER, webhook=False)  # claims a real customer
        await stranger.connect()
        assert await stranger.wait_closed(timeout=5) == 1008
        assert stranger.close_reason == "stream not authorised"
        await stranger.close()
        assert echo.calls == {} and len(state.calls) == 0 and state.calls.finished == 0

        async with TwilioMediaClient(url, caller=GOOD_CALLER) as real:  # through the signed webhook
            await wait_until(lambda: real.call_sid in state.calls.calls)
            assert state.calls.calls[real.call_sid].ctx.caller == GOOD_CALLER
            token = real.custom_parameters["token"]
            replay = TwilioMediaClient(url, caller=GOOD_CALLER, call_sid="CA" + "9" * 32, webhook=False,
                                       custom_parameters={"token": token})  # fmt: skip
            await replay.connect()
            assert await replay.wait_closed(timeout=5) == 1008, "a token is bound to its CallSid"
            await replay.close()

        victim = TwilioMediaClient(url, caller="+15550000000")
        grant = await victim.call_webhook()  # a real call from another number ...
        impostor = TwilioMediaClient(url, caller=GOOD_CALLER, call_sid=victim.call_sid, webhook=False,
                                     custom_parameters={"token": grant["token"]})  # fmt: skip
        await impostor.connect()  # ... whose token is re-used with a different caller
        assert await impostor.wait_closed(timeout=5) == 1008, "a token is bound to its caller"
        await impostor.close()
        assert list(echo.calls) == [real.call_sid], "only the webhook's call was ever built"


def test_stream_tokens_are_one_time_short_lived_and_unforgeable() -> None:
    clock = [1000.0]
    signer = TokenSigner("k", now=lambda: clock[0])
    tokens = StreamTokens(signer, ttl_s=60)
    token = tokens.issue("CA1\n+1555")
    tokens.consume("CA1\n+1555", token)
    with pytest.raises(TokenError, match="already used"):
        tokens.consume("CA1\n+1555", token)
    late = tokens.issue("CA2\n")
    clock[0] += 61
    with pytest.raises(TokenError, match="expired"):
        tokens.consume("CA2\n", late)
    assert tokens.remembered == 0, "used nonces are forgotten once they would have expired"
    forged = TokenSigner("other", now=lambda: clock[0]).issue("stream", "CA3\n", 60)
    with pytest.raises(TokenError, match="not valid"):
        tokens.consume("CA3\n", forged)
    for junk in (None, "", "x", "1.2", "a.b.c", "9" * 200):
        with pytest.raises(TokenError):
            tokens.consume("CA3\n", junk)


async def test_browser_sockets_and_offers_need_the_origin_and_the_page_token() -> None:
    guard = GuardSettings(allowed_origins="https://app.example.com")
    async with guarded_server(guard=guard) as (server, _echo, state), httpx.AsyncClient() as http:
        token = await page_token(server)
        evil = {"origin": "https://evil.example"}
        with pytest.raises(InvalidStatus) as refused:
            await connect(server.ws_url(f"/ws?token={token}"), additional_headers=evil)
        assert refused.value.response.status_code == 403
        with pytest.raises(InvalidStatus) as no_token:
            await connect(server.ws_url("/ws"))
        assert no_token.value.response.status_code == 403
        own = {"origin": server.http_url}
        for origin in (own, {"origin": "https://app.example.com"}):
            async with connect(server.ws_url(f"/ws?token={token}"), additional_headers=origin) as ws:
                await ws.send(json.dumps({"type": "start"}))
                assert json.loads(await ws.recv())["type"] == "started"

        offer_url = f"{server.http_url}/webrtc/offer"
        sneaky = evil | {"content-type": "text/plain", "x-voiceflow-token": token}
        cross = await http.post(offer_url, content='{"sdp": "v=0", "type": "offer"}', headers=sneaky)
        assert cross.status_code == 403 and cross.json() == {"error": "origin not allowed"}
        tokenless = await http.post(offer_url, json={"sdp": "v=0", "type": "offer"})
        assert tokenless.status_code == 403 and "GET /token" in tokenless.json()["error"]
        plain = await http.post(offer_url, content="{}", headers={"content-type": "text/plain",
                                                                   "x-voiceflow-token": token})  # fmt: skip
        assert plain.status_code == 415
        assert (await http.get(f"{server.http_url}/token", headers=evil)).status_code == 403
        assert state.edge.refused_origin == 2 and state.edge.refused_token == 2


async def test_page_headers_docs_off_and_trusted_host() -> None:
    settings = ServerSettings(public_host="voice.example.com")
    async with guarded_server(settings=settings) as (server, _echo, _state), httpx.AsyncClient() as http:
        page = await http.get(f"{server.http_url}/")
        assert page.status_code == 200
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["x-content-type-options"] == "nosniff"
        for path in ("/docs", "/openapi.json", "/redoc"):
            assert (await http.get(f"{server.http_url}{path}")).status_code == 404
        untrusted = await http.get(f"{server.http_url}/healthz", headers={"host": "attacker.example"})
        assert untrusted.status_code == 421
        webhook = await http.post(f"{server.http_url}/twilio/voice", data={"CallSid": "CA1"},
                                  headers={"host": "attacker.example"})  # fmt: skip
        assert webhook.status_code == 421, "the stream URL never comes from an untrusted Host"
        public = await http.post(f"{server.http_url}/twilio/voice", data={"CallSid": "CA1"},
                                 headers={"host": "voice.example.com"})  # fmt: skip
        assert 'url="wss://voice.example.com/twilio/media"' in public.text
    async with guarded_server(guard=GuardSettings(docs="on")) as (server, _echo, _state):
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"{server.http_url}/openapi.json")).status_code == 200


def test_production_requires_a_public_host() -> None:
    with pytest.raises(ConfigError, match="requires VOICEFLOW_PUBLIC_HOST"):
        create_app(lambda ctx, i, o: None, ServerSettings(), guard=GuardSettings(env="production"))  # type: ignore[arg-type,return-value]
