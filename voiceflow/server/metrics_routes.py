"""``GET /metrics``: Prometheus exposition of ``voiceflow.observability.metrics``.

Every worker's values in multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``). Open by
default (scrapers usually sit on a private network); ``VOICEFLOW_METRICS_AUTH=on``
puts it behind a read-scope admin token (the guard's middleware).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi.responses import Response

from voiceflow.observability.metrics import CONTENT_TYPE, render

if TYPE_CHECKING:
    from voiceflow.server.app import ServerState


def install(app: FastAPI, state: ServerState) -> None:
    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(content=render(), media_type=CONTENT_TYPE)
