"""The FastAPI app wiring transports to graphs: one graph run per call or peer.

Each route family lives in its own module with ``install(app, state)``; this
file only composes them, so a transport can be read on its own. ``ServerSettings``
is the ``server`` section of ``voiceflow.config`` (``Config.from_env().server``).
"""

from __future__ import annotations

import gc
import importlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI

from voiceflow.calls import CallRegistry, PipelineFactory
from voiceflow.config import GuardSettings, PathSettings, SecuritySettings, ServerSettings
from voiceflow.core.clock import Clock, MonotonicClock
from voiceflow.pipeline import Pipeline, as_pipeline
from voiceflow.server import edge as edge_module
from voiceflow.sessions import CallSessions

log = logging.getLogger("voiceflow.server")
if TYPE_CHECKING:
    from voiceflow.transports.webrtc.transport import WebRTCTransport

__all__ = ["ROUTE_MODULES", "ServerSettings", "ServerState", "create_app"]

ROUTE_MODULES = (
    "voiceflow.server.health",
    "voiceflow.server.twilio_routes",
    "voiceflow.server.ws_routes",
    "voiceflow.server.webrtc_routes",
    "voiceflow.server.page_routes",
    "voiceflow.server.telephony_routes",
    "voiceflow.server.campaign_routes",
    "voiceflow.server.session_routes",
    "voiceflow.server.metrics_routes",
    "voiceflow.server.admin_routes",
    "voiceflow.server.guard",
)


@dataclass
class ServerState:
    pipeline: Pipeline
    settings: ServerSettings = field(default_factory=ServerSettings)
    calls: CallRegistry = field(default_factory=CallRegistry)
    #: shared call sessions and cross-instance commands (None: calls are this process's only)
    sessions: CallSessions | None = None
    #: the bearer token the session admin routes require (``VOICEFLOW_ADMIN_TOKEN``; None: they answer 503)
    admin_token: str | None = None
    security: SecuritySettings = field(default_factory=SecuritySettings)
    data_dir: Path = field(default_factory=lambda: PathSettings().data_dir)
    clock: Clock = field(default_factory=MonotonicClock)
    #: run after the pipeline is prepared / after the last call closed (route modules add theirs)
    on_startup: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    on_shutdown: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    guard: GuardSettings = field(default_factory=GuardSettings)
    edge: edge_module.Edge = field(init=False)
    #: set by the WebRTC routes when installed
    webrtc: WebRTCTransport | None = None

    def __post_init__(self) -> None:
        self.edge = edge_module.Edge(self.guard, self.settings.public_host)

    @property
    def factory(self) -> PipelineFactory:
        """What the transports call for each new call."""
        return self.pipeline.build


def freeze_startup_objects() -> None:
    """Move what startup made (models, indexes, tables: ~300 000 objects for the offline agent) out of
    the garbage collector's reach: they live as long as the process, and a full collection walking
    them held the event loop ~45 ms (100+ ms on a busy machine), a late frame on every live call."""
    gc.collect()
    gc.freeze()
    log.info("startup objects frozen for the garbage collector: %d", gc.get_freeze_count())


def create_app(
    pipeline: Pipeline | PipelineFactory,
    settings: ServerSettings | None = None,
    *,
    routes: Sequence[str] = ROUTE_MODULES,
    sessions: CallSessions | None = None,
    admin_token: str | None = None,
    security: SecuritySettings | None = None,
    data_dir: Path | None = None,
    clock: Clock | None = None,
    guard: GuardSettings | None = None,
    freeze_gc: bool = False,
) -> FastAPI:
    """The app; ``routes`` picks the route modules (all of them unless a test or embedder narrows it).

    The app's lifespan runs ``pipeline.prepare()`` before the first request and
    ``pipeline.shutdown()`` after the last call has closed (also when prepare failed).
    A bare build function is a pipeline without shared resources. ``sessions`` (from
    ``CallSessions.from_settings(config.sessions)``) shares call records and commands
    with other instances; it starts before ``prepare`` and closes after the last call.
    ``security`` and ``data_dir`` feed the guard (admin tokens, rate limits, audit log);
    ``clock`` is what the rate limits count on. ``freeze_gc`` (``voiceflow serve``): what
    startup made is frozen for the garbage collector (``freeze_startup_objects``).
    """
    state = ServerState(
        as_pipeline(pipeline),
        settings or ServerSettings(),
        sessions=sessions,
        admin_token=admin_token,
        guard=guard or GuardSettings(),
    )
    if sessions is not None:
        sessions.attach(state.calls)
    if security is not None:
        state.security = security
    if data_dir is not None:
        state.data_dir = data_dir
    if clock is not None:
        state.clock = clock

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            if state.sessions is not None:
                await state.sessions.start()
            await state.pipeline.prepare()
            for start in state.on_startup:
                await start()
            telephony = getattr(state.pipeline, "telephony", None)
            if telephony is not None:  # calls we place carry a one-time stream token too
                telephony.stream_token = state.edge.outbound_token
            if freeze_gc:
                freeze_startup_objects()
            yield
        finally:
            if state.webrtc is not None:  # offers still waiting to connect have no call to close
                await state.webrtc.close_all()
            await state.calls.close_all()
            for stop in reversed(state.on_shutdown):
                try:
                    await stop()
                except Exception:  # the pipeline still shuts down
                    log.exception("server shutdown step %s failed", stop)
            await state.pipeline.shutdown()
            if state.sessions is not None:
                await state.sessions.aclose()

    docs = state.guard.docs == "on"  # /docs and /openapi.json only when asked for
    app = FastAPI(title="voiceflow", lifespan=lifespan, docs_url="/docs" if docs else None,
                  redoc_url=None, openapi_url="/openapi.json" if docs else None)  # fmt: skip
    app.state.voiceflow = state
    for name in routes:
        importlib.import_module(name).install(app, state)
    edge_module.install(app, state.edge)
    return app
