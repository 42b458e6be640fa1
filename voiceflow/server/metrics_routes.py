"""``GET /metrics``: Prometheus exposition of ``voiceflow.observability.metrics``.

Every worker's values in multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``). Open by
default (scrapers usually sit on a private network); ``VOICEFLOW_METRICS_AUTH=on``
puts it behind a read-scope admin token (the guard's middleware). The event
loop's lag is sampled from startup (``voiceflow.observability.loop_lag``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi.responses import Response

from voiceflow.observability.loop_lag import LoopLagMonitor
from voiceflow.observability.metrics import CONTENT_TYPE, reap_dead_workers, render

if TYPE_CHECKING:
    from voiceflow.server.app import ServerState


def install(app: FastAPI, state: ServerState) -> None:
    lag = LoopLagMonitor()
    app.state.loop_lag = lag

    async def started() -> None:
        reap_dead_workers()  # a worker that replaces a dead one clears the dead one's live gauges
        lag.start()

    state.on_startup.append(started)
    state.on_shutdown.append(lag.stop)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(content=render(), media_type=CONTENT_TYPE)
