"""Admin endpoints for calls on any instance: read a call's session, send it a command, live counts.

``GET /admin/calls/{id}`` reads the shared record (Redis, or this instance's memory);
``POST /admin/calls/{id}/{action}`` (``hangup``, ``transfer`` with ``{"department"}``,
or a registered one such as ``campaign``) runs on the instance that owns the call,
whichever instance received the request; ``GET /admin/cluster`` lists live calls
by instance. Every route needs ``Authorization: Bearer $VOICEFLOW_ADMIN_TOKEN`` (the
shared ``admin_auth`` guard); without a configured token they answer 503.
"""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from voiceflow.server.admin_auth import BearerToken
from voiceflow.sessions import CommandFailed

if TYPE_CHECKING:
    from voiceflow.server.app import ServerState

MAX_BODY_BYTES = 8 * 1024


def install(app: FastAPI, state: ServerState) -> None:
    router = APIRouter(prefix="/admin", dependencies=[Depends(BearerToken(state.admin_token))])

    def refused() -> JSONResponse | None:
        if state.sessions is None:
            return JSONResponse({"error": "this server keeps no call sessions"}, status_code=503)
        return None

    @router.get("/calls/{call_id}")
    async def call_session(call_id: str) -> JSONResponse:
        if (no := refused()) is not None:
            return no
        assert state.sessions is not None
        record = await state.sessions.get(call_id)
        if record is None:
            return JSONResponse({"error": f"no session for call {call_id!r}"}, status_code=404)
        return JSONResponse(dataclasses.asdict(record))

    @router.post("/calls/{call_id}/{action}")
    async def call_command(call_id: str, action: str, request: Request) -> JSONResponse:
        if (no := refused()) is not None:
            return no
        assert state.sessions is not None
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return JSONResponse({"error": f"body over {MAX_BODY_BYTES} bytes"}, status_code=413)
        try:
            args: Any = json.loads(body) if body.strip() else {}
        except (ValueError, UnicodeDecodeError):
            return JSONResponse({"error": "body is not JSON"}, status_code=400)
        if not isinstance(args, dict):
            return JSONResponse({"error": "body must be a JSON object"}, status_code=400)
        try:
            result = await state.sessions.send(call_id, action, args)
        except CommandFailed as exc:
            return JSONResponse({"error": str(exc)}, status_code=exc.status)
        return JSONResponse({"ok": True, "received_by": state.sessions.instance, **result})

    @router.get("/cluster")
    async def cluster() -> JSONResponse:
        if (no := refused()) is not None:
            return no
        assert state.sessions is not None
        instances = await state.sessions.cluster()
        return JSONResponse(
            {
                "instance": state.sessions.instance,
                "redis": "shared" if state.sessions.store.shared else "memory",
                "calls": sum(i.calls for i in instances.values()),
                "instances": {n: {"calls": i.calls, "boot": i.boot} for n, i in sorted(instances.items())},
            }
        )

    app.include_router(router)
