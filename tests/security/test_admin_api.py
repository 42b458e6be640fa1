"""Admin bearer tokens (hashed, scoped, constant-time) on every /admin route, and the audit log."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.security.guarded_server import ADMIN_TOKEN, READ_TOKEN, bearer, guarded_server
from tests.transports.transport_helpers import wait_until
from voiceflow.security.tokens import TokenError, TokenStore, hash_token, new_token
from voiceflow.sim.twilio_client import TwilioMediaClient


def test_token_entries_are_parsed_and_checked() -> None:
    token = new_token()
    store = TokenStore.parse(f"alice:admin:{hash_token(token)}, bob:read:{'a' * 64}")
    assert [t.name for t in store.tokens] == ["alice", "bob"]
    found = store.verify(token)
    assert found is not None and found.name == "alice" and found.allows("read") and found.allows("admin")
    assert store.verify(token + "x") is None
    assert token not in f"alice:admin:{hash_token(token)}", "only the hash is configured"
    for bad, message in [
        ("alice:root:" + "a" * 64, "scope 'root'"),
        ("alice:read:1234", "64 hex digits"),
        ("al ice:read:" + "a" * 64, "the name must be"),
    ]:
        with pytest.raises(TokenError, match=message):
            TokenStore.parse(bad)


async def test_every_admin_route_needs_a_token_with_the_right_scope(tmp_path: Path) -> None:
    async with guarded_server(tmp_path) as (server, _), httpx.AsyncClient(base_url=server.http_url) as http:
        routes = [
            ("GET", "/admin/calls"),
            ("DELETE", "/admin/calls/CA1"),
            ("GET", "/admin/audit"),
            ("GET", "/admin/audit-log"),
            ("POST", "/admin/purge"),
            ("GET", "/admin/anything-added-later"),
        ]
        for method, path in routes:
            anonymous = await http.request(method, path)
            assert anonymous.status_code == 401, (method, path)
            assert anonymous.headers["www-authenticate"].startswith("Bearer")
            forged = await http.request(method, path, headers=bearer("vf_guess"))
            assert forged.status_code == 401, (method, path)

        # read scope: reads yes, actions no
        assert (await http.get("/admin/calls", headers=bearer(READ_TOKEN))).status_code == 200
        refused = await http.delete("/admin/calls/CA1", headers=bearer(READ_TOKEN))
        assert refused.status_code == 403 and "needs 'admin'" in refused.json()["detail"]
        assert (await http.get("/admin/audit-log", headers=bearer(READ_TOKEN))).status_code == 403
        # admin scope: everything
        assert (await http.delete("/admin/calls/CA1", headers=bearer(ADMIN_TOKEN))).status_code == 404
        log = await http.get("/admin/audit-log", headers=bearer(ADMIN_TOKEN))
        assert log.status_code == 200
    entries = log.json()["entries"]
    denied = [e for e in entries if e["action"] == "auth.denied"]
    assert len(denied) == 2 * len(routes) + 1 and {e["actor"] for e in denied} == {"anonymous", "ops"}
    assert any(
        e["action"] == "audit-log.read" and e["status"] == 403 and e["actor"] == "ops" for e in entries
    )
    ended = [e for e in entries if e["action"] == "calls.delete" and e["actor"] == "root"]
    assert ended and ended[0]["status"] == 404 and ended[0]["target"] == "calls/CA1"
    assert all(e["client_ip"] == "127.0.0.1" for e in entries)


async def test_no_tokens_configured_means_closed(tmp_path: Path) -> None:
    async with guarded_server(tmp_path, admin_tokens=None) as (server, _), httpx.AsyncClient() as http:
        answer = await http.get(f"{server.http_url}/admin/calls", headers=bearer(ADMIN_TOKEN))
        assert answer.status_code == 503 and "VOICEFLOW_ADMIN_TOKENS" in answer.json()["detail"]


async def test_admin_lists_and_ends_a_live_call(tmp_path: Path) -> None:
    async with guarded_server(tmp_path) as (server, app), httpx.AsyncClient(base_url=server.http_url) as http:
        state = app.state.voiceflow
        async with TwilioMediaClient(server.ws_url("/twilio/media"), caller="+15551230001") as call:
            await wait_until(lambda: call.call_sid in state.calls.calls)
            listed = (await http.get("/admin/calls", headers=bearer(READ_TOKEN))).json()
            assert listed["live"] == [
                {"call_id": call.call_sid, "transport": "twilio", "caller": "+1555***0001"}
            ]
            ended = await http.delete(f"/admin/calls/{call.call_sid}", headers=bearer(ADMIN_TOKEN))
            assert ended.status_code == 200
            await wait_until(lambda: call.call_sid not in state.calls.calls)
        log = (await http.get("/admin/audit-log", headers=bearer(ADMIN_TOKEN))).json()["entries"]
    assert any(e["action"] == "calls.delete" and e["status"] == 200 and e["actor"] == "root" for e in log)


async def test_purge_endpoint_applies_retention(tmp_path: Path) -> None:
    from voiceflow.db import Database
    from voiceflow.processors.memory import MEMORY_MIGRATION

    db = await Database.open(tmp_path / "voiceflow.db", extra=[MEMORY_MIGRATION])
    old = (datetime.now(UTC) - timedelta(days=40)).isoformat()
    new = datetime.now(UTC).isoformat()

    def seed(conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT INTO user_memory (phone, first_seen, last_seen) VALUES ('+15550001', ?, ?)", (old, new)
        )
        for i, at in enumerate((old, new)):
            conn.execute(
                "INSERT INTO call_history (call_id, phone, started_at) VALUES (?, '+15550001', ?)",
                (f"CA{i}", at),
            )
            conn.execute(
                "INSERT INTO conversation_turns (phone, call_id, turn_index, role, text, created_at)"
                " VALUES ('+15550001', ?, 0, 'user', 'hello', ?)",
                (f"CA{i}", at),
            )

    await db.write(seed)
    await db.close()
    async with guarded_server(tmp_path, retention_days=30) as (server, app), httpx.AsyncClient() as http:
        await wait_until(lambda: app.state.retention.runs >= 1)  # the job purges once at start
        answer = await http.post(f"{server.http_url}/admin/purge", headers=bearer(ADMIN_TOKEN))
        assert answer.status_code == 200 and answer.json()["retention_days"] == 30
    with sqlite3.connect(tmp_path / "voiceflow.db") as conn:
        assert conn.execute("SELECT call_id FROM conversation_turns").fetchall() == [("CA1",)]
        assert conn.execute("SELECT call_id FROM call_history").fetchall() == [("CA1",)]


async def test_a_call_is_ended_at_the_session_limit(tmp_path: Path) -> None:
    async with guarded_server(tmp_path, max_call_seconds=1) as (server, app):
        state = app.state.voiceflow
        async with TwilioMediaClient(server.ws_url("/twilio/media")) as call:
            await wait_until(lambda: call.call_sid in state.calls.calls)
            await wait_until(lambda: state.calls.finished == 1, timeout=5)
            assert app.state.session_timeouts.expired == 1
            await wait_until(lambda: call.close_code is not None, timeout=5)
        assert app.state.session_timeouts.timers == {}


async def test_campaign_routes_take_the_scoped_tokens(tmp_path: Path) -> None:
    """The telephony's campaign API sits behind the same middleware: read to look, admin to change."""
    async with guarded_server(tmp_path) as (server, _), httpx.AsyncClient(base_url=server.http_url) as http:
        assert (await http.get("/admin/campaigns")).status_code == 401
        looked = await http.get("/admin/campaigns", headers=bearer(READ_TOKEN))
        # past both guards; this app has no telephony configured, which the route itself says
        assert looked.status_code == 503 and "TWILIO_ACCOUNT_SID" in looked.json()["detail"]
        assert (await http.post("/admin/campaigns", headers=bearer(READ_TOKEN), json={})).status_code == 403
        assert (await http.post("/admin/dnc", headers=bearer(ADMIN_TOKEN), json={})).status_code == 503
        log = (await http.get("/admin/audit-log", headers=bearer(ADMIN_TOKEN))).json()["entries"]
    assert {"campaigns.read", "dnc.create"} <= {e["action"] for e in log}
