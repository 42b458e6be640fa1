"""``voiceflow serve``: the FastAPI app on uvicorn, one graph run per call; and an in-process server.

The settings come from the environment once (``voiceflow.config``); a flag given on
the command line wins over its variable. ``--pipeline NAME`` loads
``pipelines/NAME.py``'s ``pipeline(config)`` (``load_pipeline``; the protocol is in
``voiceflow.pipeline``), ``module:factory`` any other factory; the app's lifespan
prepares it before the first call and shuts it down after the last.
``serve_in_background`` runs the same app inside the current event loop on a free
port (tests, ``voiceflow call``, benchmarks).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from voiceflow.commands.pipeline_loading import PipelineNotFound, available_pipelines, load_pipeline
from voiceflow.config import Config, ConfigError, ServerSettings, unknown_names

__all__ = [
    "PipelineNotFound",
    "RunningServer",
    "available_pipelines",
    "load_config",
    "load_pipeline",
    "serve_in_background",
    "server_settings",
]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("serve", help="run the voice agent server (Twilio, WebRTC, browser WebSocket)")
    p.add_argument("--host", default=None, help="interface to listen on ($VOICEFLOW_HOST, 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port ($VOICEFLOW_PORT, 8000)")
    p.add_argument("--pipeline", default="offline", help="pipelines/NAME.py or module:factory (offline)")
    p.add_argument("--public-host", default=None, help="host[:port] Twilio reaches ($VOICEFLOW_PUBLIC_HOST)")
    p.add_argument("--twilio-auth-token", default=None, help="check X-Twilio-Signature ($TWILIO_AUTH_TOKEN)")
    p.add_argument(
        "--max-message-bytes",
        type=int,
        default=None,
        help="largest WebSocket message ($VOICEFLOW_MAX_MESSAGE_BYTES)",
    )
    p.add_argument("--workers", type=int, default=None, help="server processes ($VOICEFLOW_WORKERS, 1)")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    p.set_defaults(func=run)


def load_config(command: str, overrides: dict[str, str] | None = None) -> Config | None:
    """The environment's config (``overrides`` win); on a bad value prints what is wrong and gives None."""
    try:
        config = Config.from_env({**os.environ, **overrides} if overrides else None)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"voiceflow {command}: {problem}", file=sys.stderr)
        return None
    for warning in unknown_names():
        print(f"voiceflow {command}: warning: {warning}", file=sys.stderr)
    return config


def server_settings(args: argparse.Namespace, config: Config) -> ServerSettings:
    """The config's server section with the flags given on the command line applied over it."""
    flags = {
        "host": args.host,
        "port": args.port,
        "public_host": args.public_host,
        "twilio_auth_token": args.twilio_auth_token,
        "max_message_bytes": args.max_message_bytes,
    }
    return dataclasses.replace(config.server, **{k: v for k, v in flags.items() if v is not None})


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from voiceflow.server.app import create_app
    from voiceflow.sessions import CallSessions

    config = load_config("serve")
    if config is None:
        return 2
    try:
        pipeline = load_pipeline(args.pipeline, config)
    except (PipelineNotFound, ConfigError) as exc:
        print(f"voiceflow serve: {exc}")
        return 2
    from voiceflow.observability.logs import configure_logging
    from voiceflow.security.redaction import Redactor

    redact = Redactor().redact if config.security.redaction == "on" else None
    configure_logging(args.log_level, fmt=config.security.log_format, redact=redact)
    settings = server_settings(args, config)
    from voiceflow.telephony.commands import register_campaign_command
    from voiceflow.telephony.pipeline import TelephonyPipeline, with_telephony

    try:  # outbound calls, transfers and campaigns when TWILIO_ACCOUNT_SID is set
        pipeline = with_telephony(pipeline, dataclasses.replace(config, server=settings))
    except ConfigError as exc:
        print(f"voiceflow serve: {exc}", file=sys.stderr)
        return 2
    workers = args.workers or config.guard.workers
    if workers > 1:
        from voiceflow.commands.serve_workers import run_workers

        where = f"http://{settings.host}:{settings.port}"
        print(f"voiceflow: pipeline {args.pipeline!r} on {where}, {workers} worker processes")
        options = _uvicorn_options(settings.max_message_bytes, config.guard.header_timeout_s)
        run_workers(
            args.pipeline, settings, config, workers=workers, log_level=args.log_level, options=options
        )
        return 0
    sessions = CallSessions.from_settings(config.sessions)
    if isinstance(pipeline, TelephonyPipeline):  # campaign commands reach the instance that placed the call
        register_campaign_command(sessions, pipeline)
    try:
        app = create_app(
            pipeline,
            settings,
            sessions=sessions,
            admin_token=config.telephony.admin_token,
            security=config.security,
            data_dir=config.paths.data_dir,
            guard=config.guard,
            freeze_gc=True,  # a long-lived server: startup's objects stay out of the collector's walks
        )
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"voiceflow serve: {problem}", file=sys.stderr)
        return 2
    print(f"voiceflow: pipeline {args.pipeline!r} on http://{settings.host}:{settings.port}")
    options = _uvicorn_options(settings.max_message_bytes, config.guard.header_timeout_s)
    uvicorn.run(
        app, **options, host=settings.host, port=settings.port, log_level=args.log_level, log_config=None
    )
    return 0


def _uvicorn_options(max_message_bytes: int, header_timeout_s: float = 10.0) -> dict[str, Any]:
    from voiceflow.guard.http_limits import HeaderTimeoutProtocol

    # the protocol layer refuses frames far over the app's limit before buffering them;
    # h11 with a deadline for the request head (uvicorn alone waits forever)
    return {"ws_max_size": 2 * max_message_bytes + 4096, "timeout_graceful_shutdown": 5, "lifespan": "on",
            "http": HeaderTimeoutProtocol.with_timeout(header_timeout_s)}  # fmt: skip


@dataclass(frozen=True)
class RunningServer:
    host: str
    port: int

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def ws_url(self, path: str) -> str:
        return f"ws://{self.host}:{self.port}{path}"


async def _serve(server: Any) -> None:
    try:
        await server.serve()
    except SystemExit:  # uvicorn exits when the app's startup fails; a task must not raise SystemExit
        raise RuntimeError(
            "uvicorn stopped during startup: the app's lifespan (the pipeline's prepare) failed, see the log"
        ) from None


@asynccontextmanager
async def serve_in_background(
    app: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    max_message_bytes: int = 64 * 1024,
    startup_timeout_s: float = 10.0,
    header_timeout_s: float = 10.0,
    **uvicorn_options: Any,
) -> AsyncIterator[RunningServer]:
    """Serve ``app`` in this event loop (port 0 = a free one); stops the server and its calls on exit."""
    import uvicorn

    options = _uvicorn_options(max_message_bytes, header_timeout_s) | {"timeout_graceful_shutdown": 2}
    options |= uvicorn_options
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", **options))
    task = asyncio.create_task(_serve(server), name="uvicorn")
    try:
        async with asyncio.timeout(startup_timeout_s):
            while not server.started:
                if task.done():
                    await task
                    raise RuntimeError("uvicorn stopped during startup")
                await asyncio.sleep(0.01)
        bound = server.servers[0].sockets[0].getsockname()[1]
        yield RunningServer(host, bound)
    finally:
        server.should_exit = True
        try:
            async with asyncio.timeout(10):
                await asyncio.shield(task)
        except TimeoutError:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
