"""Bounds on how much and how slowly a client may send over HTTP.

``BodyLimits`` is an ASGI middleware: a request's body is read here, before the
app sees it, with a size bound checked from ``Content-Length`` and again while
streaming (413) and a time bound on the whole body (408); a client that drops
mid-body ends the request quietly (a disconnect is normal, not an error). The
app then receives the buffered body, so no route reads an unbounded stream.
WebSocket upgrades and bodiless requests pass straight through.

``HeaderTimeoutProtocol`` is uvicorn's h11 protocol with a deadline for the
request line and headers: a connection that has not finished sending them
within ``header_timeout_s`` (on connect, and again after each response on a
kept-alive connection) gets 408 and is closed. Uvicorn itself waits forever.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["BodyLimits", "HeaderTimeoutProtocol", "error_response"]

log = logging.getLogger("voiceflow.guard.http")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


async def error_response(
    send: Send, status: int, text: str, headers: Mapping[str, str] | None = None
) -> None:
    """A short ``{"error": text}`` JSON response (also used for 421/503 by the other guards)."""
    body = json.dumps({"error": text}).encode("utf-8")
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class _Disconnected(Exception):
    """The client went away while sending its body."""


class BodyLimits:
    """ASGI middleware bounding request bodies (see module doc); ``limits`` per path prefix override."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int = 64 * 1024,
        body_timeout_s: float = 10.0,
        limits: Mapping[str, int] | None = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_timeout_s = body_timeout_s
        self.limits = dict(limits or {})
        self.refused = 0
        self.timed_out = 0
        self.disconnects = 0

    def limit_for(self, path: str) -> int:
        for prefix, limit in self.limits.items():
            if path.startswith(prefix):
                return limit
        return self.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = _content_length(scope)
        if declared == -1:
            self.refused += 1
            await error_response(send, 400, "invalid Content-Length header")
            return
        if declared is not None and declared > limit:
            self.refused += 1
            await error_response(send, 413, f"request body over {limit} bytes", {"connection": "close"})
            return
        try:
            async with asyncio.timeout(self.body_timeout_s):
                body = await self._read(receive, limit)
        except _Disconnected:
            self.disconnects += 1
            log.debug("client left while sending a body to %s", scope["path"])
            return
        except TimeoutError:
            self.timed_out += 1
            await error_response(send, 408, f"request body not received within {self.body_timeout_s:g} s",
                                 {"connection": "close"})  # fmt: skip
            return
        if body is None:
            self.refused += 1
            await error_response(send, 413, f"request body over {limit} bytes", {"connection": "close"})
            return
        await self.app(scope, _replay(body, receive), send)

    async def _read(self, receive: Receive, limit: int) -> bytes | None:
        """The whole body, or None once it passes ``limit`` (the rest is not read)."""
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Disconnected
            body += message.get("body", b"")
            if len(body) > limit:
                return None
            if not message.get("more_body", False):
                return bytes(body)


def _content_length(scope: Scope) -> int | None:
    """The declared length; None when absent, -1 when malformed."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() and len(text) < 19 else -1
    return None


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: the app waits for http.disconnect

    return replay


class HeaderTimeoutProtocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for the request head (see module doc)."""

    header_timeout_s: float = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_timer: asyncio.TimerHandle | None = None
        self._arm_head_timer()

    def _arm_head_timer(self) -> None:
        self._cancel_head_timer()
        if math.isfinite(self.header_timeout_s):
            self._head_timer = self.loop.call_later(self.header_timeout_s, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        timer = getattr(self, "_head_timer", None)
        if timer is not None:
            timer.cancel()
            self._head_timer = None

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:  # the request line and headers are in
            self._cancel_head_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or self.transport.get_protocol() is not self:
            return
        if self.conn.their_state is not h11.IDLE:
            return
        if self.conn.our_state is h11.IDLE:
            body = f"request headers not received within {self.header_timeout_s:g} s".encode()
            head = (
                b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
                b"connection: close\r\ncontent-length: " + str(len(body)).encode() + b"\r\n\r\n"
            )
            self.transport.write(head + body)
        self.transport.close()

    @classmethod
    def with_timeout(cls, seconds: float) -> type[HeaderTimeoutProtocol]:
        """A subclass with its own deadline (uvicorn takes a protocol class, not an instance)."""
        return type("HeaderTimeoutProtocol", (cls,), {"header_timeout_s": seconds})
