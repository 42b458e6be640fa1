"""``voiceflow serve --workers N``: N server processes sharing one port, so calls use every core.

Why processes, and why whole servers: a call's Python-side work (the loop that
paces audio, framing, VAD and recognizer glue, the dialogue) holds the GIL, so
one interpreter tops out near one core however many threads run the native
inference. Each worker here is a complete server (its own event loop, models
and calls) on the same listening socket; the kernel spreads new connections
across them, and a call lives its whole life in one process, so no audio frame
crosses a process boundary and one worker's load cannot delay another's
pacing. The workers share what must be shared: Prometheus' multiprocess
directory (a fresh one unless ``PROMETHEUS_MULTIPROC_DIR`` is set), the token secret (generated
here when ``VOICEFLOW_SECRET`` is unset) and the one-time stream token store
(an SQLite file), so a webhook answered by one worker admits the media socket
that lands on another, and the admission slots (another SQLite file), so the
call bounds are the server's whatever worker a call lands on. A worker that
starts (uvicorn's supervisor replacing a dead one) marks dead workers' live
gauges dead in the Prometheus directory, and their slots are swept. Models are loaded
once per worker (RSS per worker is in the load benchmark).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import secrets
import tempfile
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from voiceflow.config import Config, ServerSettings

__all__ = ["ENV_PIPELINE", "ENV_SETTINGS", "app_factory", "run_workers"]

log = logging.getLogger("voiceflow.serve")

#: how the parent hands its choices to the workers (not settings: internal to this module)
ENV_PIPELINE = "VF_WORKER_PIPELINE"
ENV_SETTINGS = "VF_WORKER_SERVER_SETTINGS"
ENV_LOG_LEVEL = "VF_WORKER_LOG_LEVEL"


def app_factory() -> FastAPI:
    """The app of one worker process (uvicorn calls this in each worker)."""
    from voiceflow.commands.pipeline_loading import load_pipeline
    from voiceflow.guard.http_limits import HeaderTimeoutProtocol
    from voiceflow.observability.logs import configure_logging
    from voiceflow.security.redaction import Redactor
    from voiceflow.server.app import create_app

    config = Config.from_env()
    # a spawned worker starts with no logging set up: the same as a single server's (call ids, redaction)
    redact = Redactor().redact if config.security.redaction == "on" else None
    configure_logging(os.environ.get(ENV_LOG_LEVEL, "info"), fmt=config.security.log_format, redact=redact)
    settings = ServerSettings(**json.loads(os.environ[ENV_SETTINGS]))
    HeaderTimeoutProtocol.header_timeout_s = config.guard.header_timeout_s
    from voiceflow.telephony.pipeline import with_telephony

    pipeline = with_telephony(
        load_pipeline(os.environ[ENV_PIPELINE], config), dataclasses.replace(config, server=settings)
    )
    from voiceflow.sessions import CallSessions

    sessions = CallSessions.from_settings(config.sessions)
    admin_token = config.telephony.admin_token
    return create_app(pipeline, settings, sessions=sessions, admin_token=admin_token, guard=config.guard,
                      security=config.security, data_dir=config.paths.data_dir, freeze_gc=True)  # fmt: skip


def run_workers(
    pipeline: str,
    settings: ServerSettings,
    config: Config,
    *,
    workers: int,
    log_level: str,
    options: dict[str, Any],
) -> None:
    """Serve with ``workers`` processes until interrupted (uvicorn's supervisor restarts a dead one)."""
    import uvicorn

    os.environ.setdefault("VOICEFLOW_SECRET", config.guard.secret or secrets.token_urlsafe(32))
    from voiceflow.server.edge import shared_nonce_path

    # a fresh server holds no call: slots an earlier run left behind (same secret) do not count
    slots = shared_nonce_path(os.environ["VOICEFLOW_SECRET"], "slots")
    _remove_sqlite(slots)
    os.environ["VOICEFLOW_WORKERS"] = str(workers)
    os.environ[ENV_PIPELINE] = pipeline
    os.environ[ENV_LOG_LEVEL] = log_level
    os.environ[ENV_SETTINGS] = json.dumps(dataclasses.asdict(settings))
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # /metrics merges every worker's values
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="voiceflow-metrics-")
    options = dict(options)
    options["http"] = (
        "voiceflow.guard.http_limits:HeaderTimeoutProtocol"  # a class by name: workers import it
    )
    try:
        uvicorn.run("voiceflow.commands.serve_workers:app_factory", factory=True, workers=workers,
                    host=settings.host, port=settings.port, log_level=log_level, **options)  # fmt: skip
    finally:
        _remove_sqlite(slots)  # the server is gone, and its calls with it


def _remove_sqlite(path: Path) -> None:
    for name in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        name.unlink(missing_ok=True)
