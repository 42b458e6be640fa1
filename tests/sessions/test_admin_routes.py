"""The admin session routes in a real server: bearer token, precise errors, a command on a live call."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from pipelines.echo import build
from voiceflow.commands.serve import serve_in_background
from voiceflow.config import ServerSettings
from voiceflow.server.app import create_app
from voiceflow.sessions import CallSessions, SessionStore


async def test_admin_routes_need_the_token_and_answer_precisely() -> None:
    sessions = CallSessions(SessionStore("solo"))
    app = create_app(build, ServerSettings(), sessions=sessions, admin_token="s3cret")
    async with serve_in_background(app) as server, httpx.AsyncClient(base_url=server.http_url) as http:
        assert (await http.get("/admin/cluster")).status_code == 401
        bad = await http.get("/admin/cluster", headers={"Authorization": "Bearer nope"})
        assert bad.status_code == 401 and "token" in bad.json()["detail"]
        auth = {"Authorization": "Bearer s3cret"}
        assert (await http.get("/admin/calls/missing", headers=auth)).status_code == 404
        token = (await http.get("/token")).json()["token"]  # the page's token for /ws
        async with connect(server.ws_url(f"/ws?token={token}")) as ws:
            await ws.send(json.dumps({"type": "start", "caller": "page"}))
            started = json.loads(await ws.recv())
            call_id = started["call_id"]
            record = (await http.get(f"/admin/calls/{call_id}", headers=auth)).json()
            assert record["instance"] == "solo" and record["state"] == "live" and record["caller"] == "page"
            cluster = (await http.get("/admin/cluster", headers=auth)).json()
            assert cluster == {"instance": "solo", "redis": "memory", "calls": 1,
                               "instances": {"solo": {"calls": 1, "boot": sessions.store.boot}}}  # fmt: skip
            r = await http.post(f"/admin/calls/{call_id}/transfer", headers=auth, content=b"[1]")
            assert r.status_code == 400 and "object" in r.json()["error"]
            r = await http.post(f"/admin/calls/{call_id}/dance", headers=auth)
            assert r.status_code == 400 and "unknown action" in r.json()["error"]
            r = await http.post(f"/admin/calls/{call_id}/hangup", headers=auth)
            assert r.status_code == 200 and r.json()["instance"] == "solo"
            with pytest.raises(ConnectionClosed):  # the server ends the call and closes the socket
                async with asyncio.timeout(10):
                    while True:
                        await ws.recv()
            assert ws.close_code == 1000
        record = (await http.get(f"/admin/calls/{call_id}", headers=auth)).json()
        assert record["state"] == "ended"


async def test_admin_routes_are_off_without_a_token() -> None:
    app = create_app(build, ServerSettings(), sessions=CallSessions(SessionStore("solo")))
    async with serve_in_background(app) as server, httpx.AsyncClient(base_url=server.http_url) as http:
        r = await http.get("/admin/cluster", headers={"Authorization": "Bearer anything"})
        assert r.status_code == 503 and "VOICEFLOW_ADMIN_TOKEN" in r.json()["detail"]
