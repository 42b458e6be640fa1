"""GET /healthz: liveness plus the number of live calls."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI

if TYPE_CHECKING:
    from voiceflow.server.app import ServerState


def install(app: FastAPI, state: ServerState) -> None:
    @app.get("/healthz")
    async def healthz() -> dict[str, object]:
        return {"status": "ok", "calls": len(state.calls), "finished": state.calls.finished}
