"""Bad input around calls: REST errors from Twilio, forged / replayed / unknown / malformed callbacks.

Each gets a precise answer and changes nothing it should not: no call placed,
no record rewritten, other calls untouched. The agent here is the echo
pipeline (nothing in these cases needs speech).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import aiohttp
import pytest
from twilio.request_validator import RequestValidator

from pipelines.echo import pipeline as echo_pipeline
from tests.telephony.conftest import ACCOUNT, TOKEN, LineEnv, line_env
from voiceflow.config import Config
from voiceflow.telephony.live import OutboundScript
from voiceflow.telephony.rest import TwilioCallError, TwilioRest
from voiceflow.testing.fakes.twilio_callee import Callee

SCRIPT = OutboundScript("Hi.", "Please call back.")


def records(env: LineEnv) -> list[tuple[str | None, str, str | None]]:
    conn = sqlite3.connect(env.telephony.db.path)
    rows = conn.execute("SELECT call_sid, status, error FROM call_records ORDER BY id").fetchall()
    conn.close()
    return rows


async def post(
    env: LineEnv, path: str, params: dict[str, str], *, token: str | None = TOKEN
) -> tuple[int, str]:
    url = f"{env.server.http_url}{path}"
    headers = {"X-Twilio-Signature": RequestValidator(token).compute_signature(url, params)} if token else {}
    async with aiohttp.ClientSession() as s, s.post(url, data=params, headers=headers) as r:
        return r.status, await r.text()


async def test_twilio_rest_errors_are_clear_and_recorded(tmp_path: Path) -> None:
    async with line_env(tmp_path, echo_pipeline(Config())) as env:
        env.twilio.rejected_numbers.add("+13125550140")
        with pytest.raises(TwilioCallError) as invalid:
            await env.telephony.call("+13125550140", SCRIPT)
        assert invalid.value.code == 21211 and "Invalid 'To' Phone Number" in str(invalid.value)
        wrong = TwilioRest(ACCOUNT, "not-the-token", api_url=env.twilio.url)
        try:
            with pytest.raises(TwilioCallError) as auth:
                await wrong.dial("+13125550142", "+12125550199", "<Response/>", status_callback="http://x/")
        finally:
            await wrong.aclose()
        assert auth.value.code == 20003 and auth.value.status == 401
        assert await env.telephony.hang_up("CA" + "f" * 32) is False  # unknown call: 20404, no exception
        rows = records(env)
    assert env.twilio.calls == {}  # nothing was dialed
    assert [(sid, status) for sid, status, _ in rows] == [(None, "failed")]
    assert "21211" in (rows[0][2] or "")


async def test_forged_unknown_malformed_and_replayed_callbacks(tmp_path: Path) -> None:
    async with line_env(tmp_path, echo_pipeline(Config())) as env:
        env.twilio.callees["+13125550150"] = Callee("busy")
        live = await env.telephony.call("+13125550150", SCRIPT)
        end = await asyncio.wait_for(live.ended, 20)
        await env.twilio.wait_idle()
        fake = env.twilio.calls[live.sid]
        completed = fake.callbacks_of("status")[-1].params
        ringing = fake.callbacks_of("status")[1].params
        before = records(env)

        # forged: no signature, a signature made with another token, a tampered body
        assert await post(env, "/twilio/status", completed | {"CallStatus": "completed"}, token=None) == (
            403,
            "invalid Twilio signature",
        )
        assert (await post(env, "/twilio/status", completed, token="guessed"))[0] == 403
        assert (await post(env, "/twilio/amd", {"CallSid": live.sid, "AnsweredBy": "human"}, token="x"))[
            0
        ] == 403
        # unknown call, malformed callbacks
        unknown = completed | {"CallSid": "CA" + "9" * 32}
        assert await post(env, "/twilio/status", unknown) == (404, f"unknown call {'CA' + '9' * 32}")
        status, text = await post(env, "/twilio/status", {"CallSid": live.sid, "CallStatus": "exploded"})
        assert status == 400 and "known CallStatus" in text
        status, text = await post(env, "/twilio/amd", {"CallSid": live.sid, "AnsweredBy": "robot"})
        assert status == 400 and "AnsweredBy" in text
        # replays of genuine callbacks (Twilio retries; an attacker may resend) change nothing
        assert await post(env, "/twilio/status", completed) == (200, "duplicate ignored")
        assert await post(env, "/twilio/status", ringing) == (200, "duplicate ignored")
        after = records(env)
    assert end.status == "busy"
    assert before == after == [(live.sid, "busy", None)]


async def test_callbacks_and_the_stream_arriving_before_create_answers(tmp_path: Path) -> None:
    """Twilio may post ``initiated`` and even open the stream before our ``create`` has its answer."""
    async with line_env(tmp_path, echo_pipeline(Config())) as env:
        env.twilio.create_delay_s = 1.5
        env.twilio.callees["+13125550155"] = Callee("human", script=(bytes(16000),), ring_s=0.0, linger_s=3)
        live = await env.telephony.call("+13125550155", SCRIPT)
        returned = time.monotonic()
        end = await asyncio.wait_for(live.ended, 30)
        fake = env.twilio.calls[live.sid]
        assert (
            fake.started is not None and fake.started < returned - 1.0
        )  # answered long before create returned
        rows = records(env)
    assert all(c.status == 200 for c in fake.callbacks), [(c.kind, c.status, c.body) for c in fake.callbacks]
    assert (end.status, end.answered_by, live.outcome) == ("completed", "human", "conversation")
    assert rows == [(live.sid, "completed", None)]
