"""The admin API under ``/admin`` (bearer tokens and the audit log are the guard's middleware).

GET    /admin/calls            live calls (caller numbers masked) and totals        read
DELETE /admin/calls/{call_id}  end a live call                                      admin
GET    /admin/audit            the compliance report (JSON; ``?format=html``)       read
GET    /admin/audit-log        recent admin actions                                 admin
POST   /admin/purge            run the retention purge now                          admin
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from voiceflow.compliance.controls import Deployment
from voiceflow.compliance.report import audit
from voiceflow.compliance.retention import DB_FILE, RetentionJob, purge
from voiceflow.security.tokens import AdminToken
from voiceflow.transports.twilio import connect_stream_twiml

if TYPE_CHECKING:
    from voiceflow.server.app import ServerState


def mask_phone(number: str | None) -> str | None:
    """``+15551230001`` → ``+1555***0001``: enough to tell calls apart, not to dial."""
    if not number:
        return number
    return number[:5] + "***" + number[-4:] if len(number) > 9 else "***"


def deployment(state: ServerState) -> Deployment:
    config = getattr(state.pipeline, "config", None)  # pipelines built from a Config keep it
    llm = getattr(getattr(config, "llm", None), "base_url", None)
    return Deployment(
        server=state.settings,
        security=state.security,
        data_dir=state.data_dir,
        llm_base_url=llm,
        twiml=lambda host: connect_stream_twiml(host, caller=None, call_sid=None),
        plain_admin_token=bool(state.admin_token or getattr(state.pipeline, "admin_token", None)),
    )


def _needs_admin(request: Request) -> JSONResponse | None:
    token: AdminToken | None = request.scope.get("state", {}).get("admin")
    if token is None or token.scope != "admin":
        return JSONResponse({"detail": "this needs a token with the 'admin' scope"}, status_code=403)
    return None


def install(app: FastAPI, state: ServerState) -> None:
    retention = state.security.retention_days
    if retention is not None:
        job = RetentionJob(state.data_dir / DB_FILE, retention, state.clock)
        state.on_startup.append(job.start)
        state.on_shutdown.append(job.stop)
        app.state.retention = job

    @app.get("/admin/calls")
    async def list_calls() -> dict[str, Any]:
        live = [
            {"call_id": s.ctx.call_id, "transport": s.ctx.transport, "caller": mask_phone(s.ctx.caller)}
            for s in state.calls.calls.values()
        ]
        return {"live": live, "finished": state.calls.finished, "failed": state.calls.failed}

    @app.delete("/admin/calls/{call_id}")
    async def end_call(call_id: str) -> Response:
        if call_id not in state.calls.calls:
            return JSONResponse({"detail": f"no live call {call_id[:64]!r}"}, status_code=404)
        await state.calls.close(call_id, drain=False)
        return JSONResponse({"ended": call_id})

    @app.get("/admin/audit")
    async def compliance_audit(format: str = "json") -> Response:
        report = await asyncio.to_thread(audit, deployment(state))
        if format == "html":
            return HTMLResponse(report.as_html())
        if format != "json":
            return JSONResponse({"detail": "format must be 'json' or 'html'"}, status_code=400)
        return JSONResponse(report.as_json())

    @app.get("/admin/audit-log")
    async def audit_log(request: Request, limit: int = 100) -> Response:
        if (refused := _needs_admin(request)) is not None:
            return refused
        log = await app.state.audit_log()
        return JSONResponse({"entries": await log.recent(max(1, min(limit, 1000)))})

    @app.post("/admin/purge")
    async def purge_now() -> Response:
        if retention is None:
            return JSONResponse(
                {"detail": "no retention period: set VOICEFLOW_RETENTION_DAYS"}, status_code=409
            )
        deleted = await asyncio.to_thread(purge, state.data_dir / DB_FILE, retention)
        return JSONResponse({"retention_days": retention, "deleted": deleted})
