"""Seeded fuzzing of every endpoint on a real server: >= 10 000 malformed inputs, in well under a minute.

Twilio webhook forms and raw bodies, Media Streams messages (before and after a
valid ``start``), ``/ws`` messages, ``/webrtc/offer`` bodies (mutated real
offers), the admin API (campaigns, contacts, DNC; with and without the bearer
token) and Twilio's status/AMD/transfer callbacks, and odd requests to the other
routes. Every answer must be below 500
and carry no traceback or internal path; no ERROR is logged with a traceback;
the server stays alive; and a good call placed before the fuzzing keeps
answering every turn throughout. ``FUZZ_SEED`` picks the run (default 16).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import time
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.guard import fuzz_inputs as fz
from tests.guard.guard_helpers import guarded_server, page_token
from tests.telephony.conftest import options as telephony_options
from tests.transports.transport_helpers import EchoFactory, tone
from tests.webrtc.webrtc_helpers import ClientPeer
from voiceflow.config import GuardSettings
from voiceflow.pipeline import as_pipeline
from voiceflow.sim.twilio_client import TwilioMediaClient
from voiceflow.telephony.pipeline import TelephonyPipeline

SEED = int(os.environ.get("FUZZ_SEED", "16"))
PATHS = ["/", "/healthz", "/token", "/static/app.js", "/static/../../etc/passwd", "/twilio/media",
         "/ws", "/docs", "/%00", "/" + "a" * 3000, "/webrtc/offer"]  # fmt: skip
CONTENT_TYPES = ["application/x-www-form-urlencoded", "text/plain", "application/json"]
LEAKS = ("Traceback", 'File "', "/work/", "site-packages", '.py"', ", in <module>")


def assert_clean(where: str, status: int, text: str) -> None:
    assert status < 500, f"{where}: {status} {text[:300]!r}"
    leaked = [marker for marker in LEAKS if marker in text]
    assert not leaked, f"{where}: internal detail {leaked} in {text[:300]!r}"


class Tally:
    def __init__(self) -> None:
        self.inputs = 0
        self.by_endpoint: dict[str, int] = {}

    def add(self, endpoint: str, n: int = 1) -> None:
        self.inputs += n
        self.by_endpoint[endpoint] = self.by_endpoint.get(endpoint, 0) + n


async def fuzz_http(rng: random.Random, base: str, token: str, sdp: str, tally: Tally, n: int) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        for _ in range(n):
            r = rng.random()
            if r < 0.35:
                form = fz.webhook_form(rng)
                if isinstance(form, dict):
                    resp = await http.post(f"{base}/twilio/voice", data=form)
                else:
                    ctype = rng.choice(
                        ["application/x-www-form-urlencoded", "text/plain", "application/json"]
                    )
                    resp = await http.post(
                        f"{base}/twilio/voice", content=form, headers={"content-type": ctype}
                    )
                where = "webhook"
            elif r < 0.8:
                headers = {"content-type": "application/json", "x-voiceflow-token": token}
                if rng.random() < 0.1:
                    headers = rng.choice([{}, {"content-type": "text/plain"}, {"origin": "null"}])
                resp = await http.post(
                    f"{base}/webrtc/offer", content=fz.offer_body(rng, sdp), headers=headers
                )
                where = "offer"
            else:
                method = rng.choice(["GET", "POST", "PUT", "DELETE", "OPTIONS", "HEAD"])
                path = rng.choice(PATHS)
                resp = await http.request(method, f"{base}{path}", headers={"x-voiceflow-token": "x.y.z"})
                where = f"{method} {path[:30]}"
            assert_clean(where, resp.status_code, resp.text)
            tally.add(where.split()[0] if where[0] in "GPDOH" else where)


ADMIN = "fuzz-admin-token"
CAMPAIGN = {"name": "spring", "script": {"greeting": "Hi"}, "from": "+12125550199", "concurrency": 2}


async def fuzz_admin_and_callbacks(rng: random.Random, base: str, tally: Tally, n: int) -> None:
    """The admin API (with and without the bearer token) and Twilio's status/AMD/transfer callbacks."""
    async with httpx.AsyncClient(timeout=30) as http:
        for _ in range(n):
            auth = (
                {"authorization": f"Bearer {ADMIN}"} if rng.random() < 0.85 else {"authorization": "Bearer x"}
            )
            r = rng.random()
            if r < 0.3:
                body = fz.mutate_json(rng, CAMPAIGN).encode("utf-8", "replace")
                resp = await http.post(f"{base}/admin/campaigns", content=body, headers=auth)
            elif r < 0.45:
                body = fz.mutate_json(rng, {"numbers": ["+12125550100"]}).encode("utf-8", "replace")
                headers = auth | {"content-type": rng.choice(["application/json", "text/plain"])}
                resp = await http.post(f"{base}/admin/dnc", content=body, headers=headers)
            elif r < 0.6:
                ref = rng.choice(["1", "0", "-1", "spring", "x" * 300, "%00", "1e9"])
                action = rng.choice(["start", "pause", "resume", "report", "contacts", ""])
                method = "GET" if action in ("report", "") else "POST"
                csv = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 500)))
                url = f"{base}/admin/campaigns/{ref}/{action}".rstrip("/")
                content = csv if method == "POST" else None
                resp = await http.request(method, url, content=content, headers=auth)
            else:
                path = rng.choice(
                    ["/twilio/status", "/twilio/amd", "/twilio/transfer/1", "/twilio/transfer/x/whisper"]
                )
                form = fz.webhook_form(rng)
                sig = {"x-twilio-signature": rng.choice(["", "abc=", "x" * 200])}
                if isinstance(form, dict):
                    resp = await http.post(
                        f"{base}{path}", data=form | {"CallStatus": "completed"}, headers=sig
                    )
                else:
                    resp = await http.post(f"{base}{path}", content=form, headers=sig)
            assert_clean("admin/callback", resp.status_code, resp.text)
            tally.add("admin+callbacks")


async def fuzz_media_streams(rng: random.Random, url: str, tally: Tally, n: int) -> None:
    sent = 0
    while sent < n:
        call = TwilioMediaClient(url, caller=rng.choice(["+15551230009", None]), webhook=rng.random() < 0.8)
        await call.connect()
        valid = fz.twilio_messages(call.stream_sid)
        try:
            for _ in range(rng.randint(20, 150)):
                message = fz.mutate_json(rng, rng.choice(valid))
                await call.send_raw(message if rng.random() < 0.95 else message.encode())
                sent += 1
        except ConnectionClosed:
            pass
        assert call.close_code in (None, 1000, 1008, 1009), f"media stream closed with {call.close_code}"
        assert_clean("media close", 200, call.close_reason)
        for event in call.events:
            assert_clean("media event", 200, json.dumps(event))
        await call.close()
    tally.add("twilio/media", sent)


async def fuzz_browser_socket(rng: random.Random, url: str, tally: Tally, n: int) -> None:
    sent = 0
    while sent < n:
        async with connect(url, max_size=2**22) as ws:
            try:
                for _ in range(rng.randint(20, 150)):
                    if rng.random() < 0.15:
                        await ws.send(bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 700))))
                    else:
                        await ws.send(fz.mutate_json(rng, rng.choice(fz.browser_messages())))
                    sent += 1
                    while True:  # read what came back so far: error events must be clean
                        try:
                            answer = await asyncio.wait_for(ws.recv(), 0.001)
                        except TimeoutError:
                            break
                        if isinstance(answer, str):
                            assert_clean("/ws event", 200, answer)
            except ConnectionClosed:
                pass
            assert ws.close_code in (None, 1000, 1008, 1009), f"/ws closed with {ws.close_code}"
    tally.add("ws", sent)


async def test_ten_thousand_malformed_inputs_hurt_no_one(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.WARNING)
    rng = random.Random(SEED)
    client = ClientPeer()
    sdp = (await client.offer())["sdp"]
    await client.close()
    guard = GuardSettings(max_calls=64, max_calls_per_address=64, max_pending_offers=64)
    pipeline = TelephonyPipeline(as_pipeline(EchoFactory()), telephony_options(api_url="http://127.0.0.1:9"),
                                 tmp_path / "campaigns.db", admin_token=ADMIN)  # fmt: skip
    started = time.monotonic()
    async with guarded_server(pipeline, guard=guard) as (server, _echo, state):
        assert state.webrtc is not None
        state.webrtc.connect_timeout = 1.0  # fuzzed offers that parse are abandoned peers
        token = await page_token(server)
        tally = Tally()
        async with TwilioMediaClient(server.ws_url("/twilio/media"), caller="+15551230001") as good:
            fuzzers = asyncio.gather(
                fuzz_http(random.Random(rng.random()), server.http_url, token, sdp, tally, 2500),
                fuzz_admin_and_callbacks(random.Random(rng.random()), server.http_url, tally, 1000),
                fuzz_media_streams(random.Random(rng.random()), server.ws_url("/twilio/media"), tally, 4000),
                fuzz_browser_socket(
                    random.Random(rng.random()), server.ws_url(f"/ws?token={token}"), tally, 3500
                ),
            )
            replies = 0
            while not fuzzers.done() or replies < 2:
                spoke_until = await good.send_audio(tone(0.4), sample_rate=16000)
                await good.send_silence(0.4)
                reply = await good.wait_for_reply(after=spoke_until, timeout=10, quiet_s=0.3)
                assert reply.frames > 10 and reply.started_at - spoke_until < 3.0
                replies += 1
            await fuzzers
            assert not good.closed, "the good call was not hurt"
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"{server.http_url}/healthz")).json()["status"] == "ok"
    elapsed = time.monotonic() - started
    print(
        f"\nfuzz seed {SEED}: {tally.inputs} inputs {tally.by_endpoint} in {elapsed:.1f} s;",
        f"the good call answered {replies} turns",
    )
    assert tally.inputs >= 10_000
    crashes = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not crashes, [r.getMessage()[:200] for r in crashes[:5]]
