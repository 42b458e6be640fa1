"""The compliance auditor: a deliberately misconfigured deployment is flagged on exactly what is wrong."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from tests.security.guarded_server import READ_TOKEN, TOKENS, bearer, guarded_server
from voiceflow.compliance.controls import CONTROLS, Deployment
from voiceflow.compliance.report import audit, grade_for
from voiceflow.config import SecuritySettings, ServerSettings
from voiceflow.db import connect
from voiceflow.processors.memory.persistent import MEMORY_SQL
from voiceflow.security.audit_log import AUDIT_FILE, SCHEMA
from voiceflow.security.tokens import hash_token
from voiceflow.transports.twilio import connect_stream_twiml

NOW = datetime.now(UTC)


def make_data(data_dir: Path, *, turns: list[tuple[str, datetime]], mode: int = 0o600) -> None:
    """A real agent database with the memory tables and these stored caller turns, and an audit log."""
    data_dir.mkdir(parents=True, exist_ok=True)
    conn = connect(data_dir / "voiceflow.db")
    conn.executescript(MEMORY_SQL)
    stamp = NOW.isoformat()
    conn.execute(
        "INSERT INTO user_memory (phone, first_seen, last_seen) VALUES ('+15550001', ?, ?)", (stamp, stamp)
    )
    for i, (text, at) in enumerate(turns):
        conn.execute(
            "INSERT INTO conversation_turns (phone, call_id, turn_index, role, text, created_at)"
            " VALUES ('+15550001', 'CA1', ?, 'user', ?, ?)",
            (i, text, at.isoformat()),
        )
    conn.close()
    audit_conn = connect(data_dir / AUDIT_FILE)
    audit_conn.executescript(SCHEMA)
    audit_conn.close()
    for name in ("voiceflow.db", AUDIT_FILE):
        os.chmod(data_dir / name, mode)


def good_deployment(tmp_path: Path) -> Deployment:
    make_data(tmp_path / "data", turns=[("where is my order [PAYMENT_CARD]", NOW)])
    log = tmp_path / "voiceflow.log"
    log.write_text('{"call_id": "CA1", "message": "caller said my card is [PAYMENT_CARD]"}\n')
    return Deployment(
        server=ServerSettings(public_host="voice.example.com", twilio_auth_token="tok"),
        security=SecuritySettings(
            admin_tokens=TOKENS,
            metrics_auth="on",
            log_format="json",
            retention_days=30,
            trusted_proxies="10.0.0.5",
        ),
        data_dir=tmp_path / "data",
        llm_base_url="https://api.example.com/v1",
        log_files=[log],
        twiml=lambda host: connect_stream_twiml(host, caller=None, call_sid=None),
    )


def test_there_are_twenty_controls_with_references() -> None:
    assert len(CONTROLS) == 20 and len({c.id for c in CONTROLS}) == 20
    assert all(("HIPAA" in c.reference or "PCI" in c.reference) and c.remediation for c in CONTROLS)


def test_a_well_configured_deployment_passes(tmp_path: Path) -> None:
    d = good_deployment(tmp_path)
    report = audit(d)
    not_passing = {r.id: (r.status, r.evidence) for r in report.results if r.status != "pass"}
    assert not_passing == {"PII-2": ("warn", not_passing["PII-2"][1])}, (
        not_passing
    )  # cloud LLM, input not redacted
    assert report.grade == "A" and report.score < 10


def test_a_misconfigured_deployment_is_flagged_exactly(tmp_path: Path) -> None:
    """Each thing done wrong here must fail its control, and nothing else may fail."""
    data = tmp_path / "data"
    make_data(
        data,
        turns=[("my card is 4111 1111 1111 1111", NOW), ("my ssn is 123-45-6789", NOW - timedelta(days=90))],
        mode=0o644,  # DB-1: world-readable
    )
    log = tmp_path / "voiceflow.log"
    log.write_text("INFO caller said social is 123-45-6789\n")  # LOG-1
    shared = hash_token("same-secret")
    d = Deployment(
        server=ServerSettings(public_host="voice.example.com", twilio_auth_token=None),  # TS-2
        security=SecuritySettings(
            admin_tokens=f"ops:read:{shared},ops:admin:{hash_token('other')}",  # AC-3: one name, two tokens
            metrics_auth="on",
            log_format="json",
            redaction="off",  # PII-1
            retention_days=30,  # set, but an old turn is still stored: RET-2
            rate_limit_requests=0,  # NET-1
            trusted_proxies="0.0.0.0/0",  # NET-2
        ),
        data_dir=data,
        log_files=[log],
        twiml=lambda host: connect_stream_twiml(host, caller=None, call_sid=None),
    )
    report = audit(d)
    failing = set(report.failing())
    assert failing == {"TS-2", "PII-1", "RET-2", "DB-1", "DB-2", "LOG-1", "NET-1", "NET-2", "AC-3"}, {
        r.id: r.evidence for r in report.results if r.status != "pass"
    }
    by_id = {r.id: r for r in report.results}
    assert (
        "1 payment_card (critical)" in by_id["DB-2"].evidence and "1 ssn (critical)" in by_id["DB-2"].evidence
    )
    assert "voiceflow.db -rw-r--r--" in by_id["DB-1"].evidence
    assert "older than 30 day(s)" in by_id["RET-2"].evidence
    assert report.grade in ("D", "F") and report.score > 40, report.score
    html = report.as_html()
    assert "<td>DB-2</td>" in html and "FAIL" in html and "4111" not in html
    assert json.loads(json.dumps(report.as_json()))["counts"]["fail"] == 9


def test_grades() -> None:
    assert [grade_for(s, False) for s in (0, 12, 30, 50, 80)] == ["A", "B", "C", "D", "F"]
    assert grade_for(5, True) == "D", "a failed critical control caps the grade"


def test_cli_json_and_html(tmp_path: Path) -> None:
    make_data(tmp_path / "data", turns=[("hello", NOW)])
    env = {
        **os.environ,
        "VOICEFLOW_DATA_DIR": str(tmp_path / "data"),
        "PYTHONPATH": os.getcwd(),
        "VOICEFLOW_RETENTION_DAYS": "7",
    }
    for name in [
        k
        for k in env
        if k.startswith("VOICEFLOW_") and k not in ("VOICEFLOW_DATA_DIR", "VOICEFLOW_RETENTION_DAYS")
    ]:
        del env[name]
    env.pop("TWILIO_AUTH_TOKEN", None)
    html = tmp_path / "audit.html"
    done = subprocess.run(
        [sys.executable, "-m", "voiceflow.cli", "audit", "--json", "--purge", "--html", str(html)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr  # TS-2 fails: no Twilio auth token in this environment
    report = json.loads(done.stdout)
    assert len(report["controls"]) == 20 and 0 <= report["risk_score"] <= 100
    assert {c["id"] for c in report["controls"] if c["status"] == "fail"} == {"TS-2"}
    assert html.read_text().startswith("<!doctype html>")


async def test_admin_audit_endpoint(tmp_path: Path) -> None:
    async with guarded_server(tmp_path) as (server, _), httpx.AsyncClient(base_url=server.http_url) as http:
        assert (await http.get("/admin/audit")).status_code == 401
        report = await http.get("/admin/audit", headers=bearer(READ_TOKEN))
        assert report.status_code == 200 and len(report.json()["controls"]) == 20
        page = await http.get("/admin/audit?format=html", headers=bearer(READ_TOKEN))
        assert page.headers["content-type"].startswith("text/html") and "risk score" in page.text
        assert (await http.get("/admin/audit?format=pdf", headers=bearer(READ_TOKEN))).status_code == 400
    with sqlite3.connect(tmp_path / AUDIT_FILE) as conn:
        actions = [r[0] for r in conn.execute("SELECT action FROM admin_audit ORDER BY id")]
    assert actions == ["auth.denied", "audit.read", "audit.read", "audit.read"]
