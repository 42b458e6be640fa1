"""The admin API (bearer token, constant-time check) and ``voiceflow campaign`` driving a real server.

The CLI runs in a thread (it is a blocking HTTP client) against the server in
this event loop; the fake Twilio's callees are busy lines and unanswered phones,
so the campaign runs in real time in a second or two, on a wall clock set to a
weekday noon in Chicago (the callees' zone): at the suite's own hour the calling
window may be shut, and the campaign would wait for it.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from prometheus_client import REGISTRY

from pipelines.echo import pipeline as echo_pipeline
from tests.telephony.conftest import CALLER_ID, LineEnv, line_env
from voiceflow.cli import main
from voiceflow.config import Config
from voiceflow.telephony.wallclock import WallClock
from voiceflow.testing.fakes.twilio_callee import Callee

TOKEN = "s3cret-admin-token"


class NoonInChicago(WallClock):
    """Real time, started at noon on a Wednesday in Chicago (inside the calling window)."""

    def __init__(self) -> None:
        noon = datetime(2026, 12, 2, 12, 0, tzinfo=ZoneInfo("America/Chicago")).timestamp()
        self.offset = noon - time.time()

    def now(self) -> float:
        return time.time() + self.offset


async def api(
    env: LineEnv, method: str, path: str, *, token: str | None = TOKEN, **kw: object
) -> tuple[int, object]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession() as s,
        s.request(method, env.server.http_url + path, headers=headers, **kw) as r,
    ):  # type: ignore[arg-type]
        return r.status, await r.json()


async def test_every_admin_route_needs_the_token(tmp_path: Path) -> None:
    async with line_env(tmp_path, echo_pipeline(Config()), admin_token=TOKEN) as env:
        for method, path in [
            ("GET", "/admin/campaigns"),
            ("POST", "/admin/campaigns/x/start"),
            ("GET", "/admin/dnc"),
        ]:
            assert (await api(env, method, path, token=None))[0] == 401
            assert (await api(env, method, path, token="s3cret-admin-tokeN"))[0] == 401
        status, body = await api(env, "GET", "/admin/campaigns")
        assert (status, body) == (200, [])


async def test_no_configured_token_closes_the_api(tmp_path: Path) -> None:
    async with line_env(tmp_path, echo_pipeline(Config())) as env:
        status, body = await api(env, "GET", "/admin/campaigns", token="anything")
    assert status == 503 and "VOICEFLOW_ADMIN_TOKEN" in body["detail"]  # type: ignore[index]


async def test_bad_requests_get_precise_errors(tmp_path: Path) -> None:
    async with line_env(tmp_path, echo_pipeline(Config()), admin_token=TOKEN) as env:
        status, body = await api(env, "POST", "/admin/campaigns", data=b"{not json")
        assert status == 400 and "invalid campaign" in body["detail"]  # type: ignore[index]
        status, body = await api(env, "POST", "/admin/campaigns", json={"name": "a", "from_number": "12"})
        assert status == 400 and "from_number" in body["detail"]  # type: ignore[index]
        status, body = await api(
            env, "POST", "/admin/campaigns", json={"name": "a", "from_number": CALLER_ID, "x": 1}
        )
        assert status == 400 and "unknown campaign fields ['x']" in body["detail"]  # type: ignore[index]
        assert (await api(env, "GET", "/admin/campaigns/nope"))[0] == 404
        assert (await api(env, "POST", "/admin/campaigns", json={"name": "a", "from_number": CALLER_ID}))[
            0
        ] == 201
        status, body = await api(env, "POST", "/admin/campaigns/a/start")
        assert status == 409 and "no contacts" in body["detail"]  # type: ignore[index]
        status, body = await api(env, "POST", "/admin/campaigns/a/contacts", data=b"name\nAna\n")
        assert status == 400 and "'phone' column" in body["detail"]  # type: ignore[index]
        status, body = await api(env, "POST", "/admin/campaigns/a/contacts", data=b"\xff\xfe")
        assert status == 400 and "UTF-8" in body["detail"]  # type: ignore[index]
        status, body = await api(env, "POST", "/admin/dnc", json={"numbers": ["+13125550199", "nope"]})
        assert (status, body) == (
            200,
            {"added": 1, "problems": ["line 2: 'nope' is not a phone number"]},
        )
        assert (await api(env, "POST", "/admin/dnc", json={"numbers": "+1312"}))[0] == 400
        assert (await api(env, "DELETE", "/admin/dnc/+13125550100"))[0] == 404
        assert (await api(env, "DELETE", "/admin/dnc/+13125550199"))[0] == 200


def cli(server: str, *args: str) -> int:
    return main(["campaign", "--server", server, "--token", TOKEN, *args])


async def test_the_campaign_command_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("phone,name\n+13125550121,Ana\n+13125550122,Bo\nnot-a-phone,Cy\n+13125550123,Di\n")
    async with line_env(tmp_path, echo_pipeline(Config()), admin_token=TOKEN, clock=NoonInChicago()) as env:
        url = env.server.http_url
        env.twilio.callees |= {"+13125550121": Callee("busy"), "+13125550122": Callee("no_answer")}
        env.twilio.callees["+13125550123"] = Callee("busy")
        run = asyncio.to_thread
        assert (
            await run(cli, url, "create", "spring", "--from", CALLER_ID, "--cps", "50", "--max-attempts", "1")
            == 0
        )
        assert await run(cli, url, "import", "spring", str(contacts)) == 0
        assert await run(cli, url, "start", "spring", "--follow") == 0
        assert await run(cli, url, "status", "spring") == 0
        assert await run(cli, url, "report", "spring", "--json") == 0
        assert await run(cli, url, "pause", "spring") == 1  # it has finished: a clear refusal
        assert await run(main, ["campaign", "--server", url, "--token", "wrong", "status", "spring"]) == 1
    out, err = capsys.readouterr()
    assert "campaign 'spring' created (id 1)" in out
    assert "3 contacts imported" in out and "skipped line 4: 'not-a-phone' is not a phone number" in out
    assert "[##############################] 3/3 settled, 0 in flight, finished" in out
    report = json.loads(out[out.index("{") : out.rindex("}") + 1])
    assert report["calls"] == {"busy": 2, "no-answer": 1} and report["contacts"] == {"failed": 3}
    counted = {
        status: REGISTRY.get_sample_value(
            "voiceflow_campaign_calls_total", {"campaign": "spring", "status": status}
        )
        for status in ("busy", "no-answer")
    }
    assert counted == {"busy": 2.0, "no-answer": 1.0}  # the Prometheus counter agrees with the report
    assert "HTTP 409: campaign 'spring' is not running" in err
    assert "HTTP 401" in err
