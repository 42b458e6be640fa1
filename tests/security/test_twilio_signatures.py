"""Twilio signatures on the webhook, status callbacks and the media handshake: forged = refused first."""

from __future__ import annotations

import base64
import random
from pathlib import Path

import httpx
import pytest
from twilio.request_validator import RequestValidator
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.security.guarded_server import guarded_server
from tests.transports.transport_helpers import tone, wait_until
from voiceflow.sim.twilio_client import TwilioMediaClient

TOKEN = "twilio-auth-token-for-tests"
FORM = {
    "CallSid": "CA0123456789abcdef",
    "CallStatus": "completed",
    "AnsweredBy": "human",
    "From": "+15551230001",
}


def forgeries(
    url: str, form: dict[str, str], count: int, seed: int = 13
) -> list[tuple[dict[str, str], str | None]]:
    """Seeded forgeries: wrong token, other URL, tampered fields, random or cut signatures, none."""
    rng = random.Random(seed)
    good = RequestValidator(TOKEN).compute_signature(url, form)
    out: list[tuple[dict[str, str], str | None]] = []
    for k in range(count):
        kind = k % 6
        if kind == 0:
            out.append((form, RequestValidator(f"wrong-{k}").compute_signature(url, form)))
        elif kind == 1:
            out.append((form, RequestValidator(TOKEN).compute_signature(url + f"?x={k}", form)))
        elif kind == 2:
            out.append(
                (form | {"CallStatus": rng.choice(["busy", "failed", "no-answer"]), "n": str(k)}, good)
            )
        elif kind == 3:
            out.append((form, base64.b64encode(rng.randbytes(20)).decode()))
        elif kind == 4:
            out.append((form, good[: rng.randrange(1, len(good) - 1)]))
        else:
            out.append((form, None))
    return out


async def test_status_callbacks_are_signed_or_refused_before_the_route_runs(tmp_path: Path) -> None:
    guarded = guarded_server(
        tmp_path, server={"twilio_auth_token": TOKEN, "public_host": "voice.example.com"}
    )
    async with guarded as (server, app), httpx.AsyncClient(base_url=server.http_url) as http:
        url = "https://voice.example.com/twilio/status"
        rejected = 0
        for form, signature in forgeries(url, FORM, 100):
            headers = {"X-Twilio-Signature": signature} if signature is not None else {}
            answer = await http.post("/twilio/status", data=form, headers=headers)
            rejected += answer.status_code == 403
            assert "Traceback" not in answer.text
        assert rejected == 100, "every forged or missing signature is refused"
        assert app.state.callbacks == [], "the route never ran for a forged request"

        signature = RequestValidator(TOKEN).compute_signature(url, FORM)
        ok = await http.post("/twilio/status", data=FORM, headers={"X-Twilio-Signature": signature})
        assert ok.status_code == 200 and app.state.callbacks == [FORM]
        # the voice webhook goes through the same check
        voice = "https://voice.example.com/twilio/voice"
        signed = {"X-Twilio-Signature": RequestValidator(TOKEN).compute_signature(voice, FORM)}
        assert (await http.post("/twilio/voice", data=FORM, headers=signed)).status_code == 200
        assert (
            await http.post("/twilio/voice", data=FORM | {"From": "+1999"}, headers=signed)
        ).status_code == 403
        huge = await http.post("/twilio/voice", data={"x": "y" * 40_000}, headers=signed)
        assert huge.status_code == 413


async def test_media_stream_handshake_must_be_signed(tmp_path: Path) -> None:
    guarded = guarded_server(tmp_path, server={"twilio_auth_token": TOKEN})
    async with guarded as (server, app):
        state = app.state.voiceflow
        url = server.ws_url("/twilio/media")
        with pytest.raises(InvalidStatus) as unsigned:
            await connect(url)
        assert unsigned.value.response.status_code == 403
        # a handshake carries no form: the tampered-field forgeries do not apply to it
        for _, signature in [(f, sig) for f, sig in forgeries(url, {}, 36) if not f]:
            headers = {"X-Twilio-Signature": signature} if signature is not None else {}
            with pytest.raises(InvalidStatus):
                await connect(url, additional_headers=headers)
        assert len(state.calls) == 0 and state.calls.finished == 0, "no call was opened"

        async with TwilioMediaClient(url, auth_token=TOKEN) as call:  # signs like Twilio
            spoke = await call.send_audio(tone(0.5), sample_rate=16000)
            await call.send_silence(0.4)
            await call.wait_for_reply(after=spoke, timeout=10)
        await wait_until(lambda: state.calls.finished == 1)


async def test_behind_a_proxy_the_public_wss_url_is_what_is_signed(tmp_path: Path) -> None:
    guarded = guarded_server(
        tmp_path, server={"twilio_auth_token": TOKEN, "public_host": "voice.example.com"}
    )
    async with guarded as (server, _):
        signature = RequestValidator(TOKEN).compute_signature("wss://voice.example.com/twilio/media", {})
        socket = await connect(
            server.ws_url("/twilio/media"), additional_headers={"X-Twilio-Signature": signature}
        )
        await socket.close()
        local = RequestValidator(TOKEN).compute_signature(server.ws_url("/twilio/media"), {})
        with pytest.raises(InvalidStatus):
            await connect(server.ws_url("/twilio/media"), additional_headers={"X-Twilio-Signature": local})
