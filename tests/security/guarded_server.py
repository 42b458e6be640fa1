"""A real server with the security guard, the admin API and the echo pipeline (for the security tests)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse

from tests.transports.transport_helpers import EchoFactory
from voiceflow.commands.serve import RunningServer, serve_in_background
from voiceflow.config import SecuritySettings, ServerSettings
from voiceflow.core.clock import Clock
from voiceflow.security.tokens import hash_token
from voiceflow.server.app import ServerState, create_app

ROUTES = (
    "voiceflow.server.health",
    "voiceflow.server.twilio_routes",
    "voiceflow.server.ws_routes",
    "voiceflow.server.metrics_routes",
    "voiceflow.server.admin_routes",
    "voiceflow.server.campaign_routes",
    "tests.security.guarded_server",  # a status callback route, as the outbound-calls work adds one
    "voiceflow.server.guard",
)
READ_TOKEN, ADMIN_TOKEN = "vf_read_token_for_tests", "vf_admin_token_for_tests"
TOKENS = f"ops:read:{hash_token(READ_TOKEN)},root:admin:{hash_token(ADMIN_TOKEN)}"


def install(app: FastAPI, state: ServerState) -> None:
    """``POST /twilio/status``: records what reached it (a status/AMD callback stand-in route)."""
    app.state.callbacks = []

    @app.post("/twilio/status")
    async def status(request: Request) -> PlainTextResponse:
        app.state.callbacks.append(dict(parse_qsl((await request.body()).decode())))
        return PlainTextResponse("ok")


@asynccontextmanager
async def guarded_server(
    tmp_path: Path, *, clock: Clock | None = None, server: dict[str, Any] | None = None, **security: Any
) -> AsyncIterator[tuple[RunningServer, FastAPI]]:
    security.setdefault("admin_tokens", TOKENS)
    app = create_app(
        EchoFactory(),
        ServerSettings(**(server or {})),
        routes=ROUTES,
        security=SecuritySettings(**security),
        data_dir=tmp_path,
        clock=clock,
    )
    async with serve_in_background(app) as running:
        yield running, app


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
