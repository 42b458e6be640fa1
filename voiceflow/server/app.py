"""The FastAPI app wiring transports to graphs: one graph run per call or peer.

Each route family lives in its own module with ``install(app, state)``; this
file only composes them, so a transport can be read on its own.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from fastapi import FastAPI

from voiceflow.calls import CallRegistry, PipelineFactory

ROUTE_MODULES = (
    "voiceflow.server.health",
    "voiceflow.server.twilio_routes",
    "voiceflow.server.ws_routes",
    "voiceflow.server.webrtc_routes",
    "voiceflow.server.page_routes",
)


@dataclass
class ServerSettings:
    #: host[:port] Twilio should reach for the media WebSocket; None = the request's Host header
    public_host: str | None = None
    #: the largest WebSocket message accepted before the call is closed cleanly
    max_message_bytes: int = 64 * 1024
    #: when set, POST /twilio/voice requires a valid X-Twilio-Signature made with this auth token
    twilio_auth_token: str | None = None


@dataclass
class ServerState:
    factory: PipelineFactory
    settings: ServerSettings = field(default_factory=ServerSettings)
    calls: CallRegistry = field(default_factory=CallRegistry)


def create_app(
    factory: PipelineFactory,
    settings: ServerSettings | None = None,
    *,
    routes: Sequence[str] = ROUTE_MODULES,
    startup: Callable[[], Awaitable[object]] | None = None,
    shutdown: Callable[[], Awaitable[object]] | None = None,
) -> FastAPI:
    """The app; ``routes`` picks the route modules (all of them unless a test or embedder narrows it).

    ``startup`` runs before the first request (load models, open the database: a pipeline
    module's ``prepare``), ``shutdown`` after the last call has closed.
    """
    state = ServerState(factory, settings or ServerSettings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if startup is not None:
            await startup()
        try:
            yield
        finally:
            await state.calls.close_all()
            if shutdown is not None:
                await shutdown()

    app = FastAPI(title="voiceflow", lifespan=lifespan)
    app.state.voiceflow = state
    for name in routes:
        importlib.import_module(name).install(app, state)
    return app
