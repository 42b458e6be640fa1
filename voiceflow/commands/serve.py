"""``voiceflow serve``: the FastAPI app on uvicorn, one graph run per call; and an in-process server.

The pipeline is looked up by name: ``echo`` is the model-free echo pipeline
(``pipelines.echo``), any other NAME is ``pipelines.NAME``'s
``build(ctx, input, output) -> Graph``, and ``module:function`` names any
factory. ``serve_in_background`` runs the same app inside the current event
loop on a free port (tests, ``voiceflow call``, benchmarks).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import pkgutil
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, cast

from voiceflow.calls import PipelineFactory

__all__ = [
    "BUILTIN_PIPELINES",
    "RunningServer",
    "available_pipelines",
    "resolve_pipeline",
    "serve_in_background",
]

#: pipelines that live outside ``pipelines/``
BUILTIN_PIPELINES = {"echo": "pipelines.echo:build"}


class PipelineNotFound(LookupError):
    """The named pipeline does not exist or has no ``build`` factory."""


def available_pipelines() -> list[str]:
    names = set(BUILTIN_PIPELINES)
    try:
        import pipelines

        names.update(m.name for m in pkgutil.iter_modules(pipelines.__path__) if not m.name.startswith("_"))
    except ImportError:
        pass
    return sorted(names)


def resolve_pipeline(name: str) -> PipelineFactory:
    """The factory for ``name`` (see module doc); ``PipelineNotFound`` says what exists."""
    target = BUILTIN_PIPELINES.get(name, name if ":" in name else f"pipelines.{name}:build")
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module_name.startswith(exc.name):
            raise PipelineNotFound(
                f"no pipeline {name!r} (module {module_name} not found); available: "
                f"{', '.join(available_pipelines())}"
            ) from None
        raise
    factory = getattr(module, attr or "build", None)
    if not callable(factory):
        raise PipelineNotFound(f"{module_name} has no callable {attr or 'build'}(ctx, input, output)")
    return cast(PipelineFactory, factory)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("serve", help="run the voice agent server (Twilio, WebRTC, browser WebSocket)")
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--pipeline", default="offline", help="pipelines/NAME.py, 'echo', or module:function")
    p.add_argument("--public-host", default=None, help="host[:port] Twilio reaches (default: request Host)")
    p.add_argument(
        "--twilio-auth-token",
        default=os.environ.get("TWILIO_AUTH_TOKEN"),
        help="validate X-Twilio-Signature on the webhook (default: $TWILIO_AUTH_TOKEN)",
    )
    p.add_argument("--max-message-bytes", type=int, default=64 * 1024, help="largest WebSocket message")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import logging

    import uvicorn

    from voiceflow.server.app import ServerSettings, create_app

    try:
        factory = resolve_pipeline(args.pipeline)
    except PipelineNotFound as exc:
        print(f"voiceflow serve: {exc}")
        return 2
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = ServerSettings(
        public_host=args.public_host,
        max_message_bytes=args.max_message_bytes,
        twilio_auth_token=args.twilio_auth_token or None,
    )
    module = sys.modules[factory.__module__]
    app = create_app(
        factory,
        settings,
        startup=getattr(module, "prepare", None),
        shutdown=getattr(module, "shutdown", None),
    )
    print(f"voiceflow: pipeline {args.pipeline!r} on http://{args.host}:{args.port}")
    uvicorn.run(app, **_uvicorn_options(settings.max_message_bytes), host=args.host, port=args.port,
                log_level=args.log_level)  # fmt: skip
    return 0


def _uvicorn_options(max_message_bytes: int) -> dict[str, Any]:
    # the protocol layer refuses frames far over the app's limit before buffering them
    return {"ws_max_size": 2 * max_message_bytes + 4096, "timeout_graceful_shutdown": 5, "lifespan": "on"}


@dataclass(frozen=True)
class RunningServer:
    host: str
    port: int

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def ws_url(self, path: str) -> str:
        return f"ws://{self.host}:{self.port}{path}"


@asynccontextmanager
async def serve_in_background(
    app: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    max_message_bytes: int = 64 * 1024,
    startup_timeout_s: float = 10.0,
) -> AsyncIterator[RunningServer]:
    """Serve ``app`` in this event loop (port 0 = a free one); stops the server and its calls on exit."""
    import uvicorn

    options = _uvicorn_options(max_message_bytes) | {"timeout_graceful_shutdown": 2}
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", **options))
    task = asyncio.create_task(server.serve(), name="uvicorn")
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
