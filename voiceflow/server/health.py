"""GET /healthz: liveness, the number of live calls, the instance that answered."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI, Request

if TYPE_CHECKING:
    from voiceflow.server.app import ServerState


def install(app: FastAPI, state: ServerState) -> None:
    @app.get("/healthz")
    async def healthz(request: Request) -> dict[str, object]:
        return {
            "status": "ok",
            "calls": len(state.calls),
            "finished": state.calls.finished,
            # which instance answered, and the client address it saw (behind nginx: the forwarded one)
            "instance": state.sessions.instance if state.sessions is not None else None,
            "client": request.client.host if request.client is not None else None,
        }
