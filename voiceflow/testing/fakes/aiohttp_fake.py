"""The lifecycle every aiohttp-based fake provider shares: start on 127.0.0.1 and a free port,
stop, ``async with``, and a copy on its own thread for synchronous benchmark code."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Self, TypeVar

from aiohttp import web

F = TypeVar("F", bound="AiohttpFake")


async def serve_app(
    app: web.Application, host: str, port: int = 0, *, handler_cancellation: bool = True
) -> tuple[web.AppRunner, int]:
    """Serve ``app`` on ``host``:``port`` (0: a free one); its runner and the port it got.

    ``handler_cancellation``: a client hanging up cancels its handler, which fakes record.
    """
    runner = web.AppRunner(
        app, handle_signals=False, shutdown_timeout=1.0, handler_cancellation=handler_cancellation
    )
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    server = site._server
    assert server is not None
    sockets = getattr(server, "sockets", None) or []
    return runner, sockets[0].getsockname()[1]


class AiohttpFake:
    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None
        #: set when the server stops: long-running handlers end on it
        self.stopping = asyncio.Event()

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def start(self) -> Self:
        app = web.Application(client_max_size=32 * 1024 * 1024)
        self.routes(app)
        self.stopping = asyncio.Event()
        self._runner, self.port = await serve_app(app, self.host, self.port)
        return self

    async def stop(self) -> None:
        self.stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}"


@contextmanager
def serve_in_thread(cls: type[F], **kwargs: Any) -> Iterator[F]:
    """Run a fake on a private event loop in a daemon thread (for synchronous callers)."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    holder: list[F] = []

    def main() -> None:
        asyncio.set_event_loop(loop)
        server = cls(**kwargs)
        holder.append(server)
        loop.run_until_complete(server.start())
        started.set()
        loop.run_forever()
        loop.run_until_complete(server.stop())
        loop.close()

    thread = threading.Thread(target=main, name=f"fake-{cls.__name__}", daemon=True)
    thread.start()
    if not started.wait(10.0):
        raise RuntimeError(f"{cls.__name__} did not start")
    try:
        yield holder[0]
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10.0)
