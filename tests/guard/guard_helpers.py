"""A real server with every route and the edge's guards, on a free port, for the guard tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from tests.transports.transport_helpers import EchoFactory
from voiceflow.commands.serve import RunningServer, serve_in_background
from voiceflow.config import GuardSettings, ServerSettings
from voiceflow.server.app import ServerState, create_app

ALL_ROUTES = (
    "voiceflow.server.health",
    "voiceflow.server.twilio_routes",
    "voiceflow.server.ws_routes",
    "voiceflow.server.webrtc_routes",
    "voiceflow.server.page_routes",
)


@asynccontextmanager
async def guarded_server(
    factory: Any = None,
    *,
    guard: GuardSettings | None = None,
    settings: ServerSettings | None = None,
    **uvicorn_options: Any,
) -> AsyncIterator[tuple[RunningServer, Any, ServerState]]:
    """The echo pipeline (or ``factory``) behind every route, with ``guard`` applied."""
    echo = factory if factory is not None else EchoFactory()
    guard = guard or GuardSettings()
    app = create_app(echo, settings or ServerSettings(), routes=ALL_ROUTES, guard=guard)
    async with serve_in_background(app, header_timeout_s=guard.header_timeout_s, **uvicorn_options) as server:
        yield server, echo, app.state.voiceflow


async def page_token(server: RunningServer) -> str:
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{server.http_url}/token")
        response.raise_for_status()
        return str(response.json()["token"])


async def raw_exchange(server: RunningServer, data: bytes, *, wait_s: float = 5.0) -> bytes:
    """Send raw bytes over TCP and read until the server closes (or ``wait_s``)."""
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        writer.write(data)
        await writer.drain()
        async with asyncio.timeout(wait_s):
            return await reader.read()
    finally:
        writer.close()
        await writer.wait_closed()
