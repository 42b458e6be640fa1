"""Per-IP rate limits as ASGI middleware: HTTP requests per window, WebSocket concurrency and connects/s.

HTTP: at most ``requests`` per ``window`` seconds per client IP (a sliding log, exact:
the oldest of the last ``requests`` timestamps must be a window old); over it, 429
with ``Retry-After`` (whole seconds until a slot frees). WebSocket: at most
``ws_max`` open sockets and ``ws_per_second`` new ones per second per IP; a refused
handshake gets 429 with ``Retry-After`` where the server supports handshake
responses, else a close before accept (HTTP 403).

Time comes from the run's clock (``VirtualClock`` in tests). Memory is bounded: a
log holds at most ``requests`` timestamps, idle IPs are swept, and at most
``max_ips`` IPs are tracked (past that the stalest are forgotten).

Twilio's own traffic comes from a few Twilio addresses and is authenticated by its
signature (checked inside, before any work): when a Twilio auth token is configured,
``/twilio/`` requests carrying ``X-Twilio-Signature`` are not counted per IP.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from voiceflow.core.clock import Clock, MonotonicClock
from voiceflow.security.client_ip import TrustedProxies, client_ip

__all__ = ["RateLimitMiddleware", "RateLimits", "SlidingWindow"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True)
class RateLimits:
    requests: int = 200  # per window per IP; 0 = no limit
    window_s: float = 60.0
    ws_max: int = 100  # concurrent WebSockets per IP; 0 = no limit
    ws_per_second: int = 20  # WebSocket connects per second per IP; 0 = no limit
    exempt_signed_twilio: bool = False


class SlidingWindow:
    """At most ``limit`` events per ``window`` seconds per key."""

    def __init__(self, limit: int, window: float, *, max_keys: int = 100_000) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self.logs: dict[str, deque[float]] = {}
        self._since_sweep = 0

    def hit(self, key: str, now: float) -> float:
        """Count an event for ``key``; 0 when allowed, else seconds until it would be."""
        log = self.logs.get(key)
        if log is None:
            self._sweep(now)
            log = self.logs[key] = deque(maxlen=self.limit)
        if len(log) >= self.limit:
            wait = log[0] + self.window - now
            if wait > 0:
                return wait
        log.append(now)
        return 0.0

    def _sweep(self, now: float) -> None:
        self._since_sweep += 1
        if self._since_sweep < 1024 and len(self.logs) < self.max_keys:
            return
        self._since_sweep = 0
        for key in [k for k, log in self.logs.items() if not log or log[-1] + self.window <= now]:
            del self.logs[key]
        while len(self.logs) >= self.max_keys:  # still full of active IPs: forget the stalest
            del self.logs[min(self.logs, key=lambda k: self.logs[k][-1] if self.logs[k] else 0.0)]


def _has_header(scope: Scope, name: bytes) -> bool:
    return any(k.lower() == name for k, _ in scope.get("headers", ()))


class RateLimitMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        limits: RateLimits,
        trusted: TrustedProxies | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.app = app
        self.limits = limits
        self.trusted = trusted or TrustedProxies()
        self.clock: Clock = clock or MonotonicClock()
        self.http = SlidingWindow(limits.requests, limits.window_s) if limits.requests else None
        self.ws_rate = SlidingWindow(limits.ws_per_second, 1.0) if limits.ws_per_second else None
        self.ws_open: dict[str, int] = {}
        self.refused = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "websocket":
            await self._websocket(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    def _twilio_signed(self, scope: Scope) -> bool:
        return (
            self.limits.exempt_signed_twilio
            and str(scope.get("path", "")).startswith("/twilio/")
            and _has_header(scope, b"x-twilio-signature")
        )

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.http is not None and not self._twilio_signed(scope):
            wait = self.http.hit(client_ip(scope, self.trusted), self.clock.now())
            if wait:
                self.refused += 1
                await _refuse_http(
                    send,
                    wait,
                    f"rate limit: {self.limits.requests} requests per {self.limits.window_s:g} s per client",
                )
                return
        await self.app(scope, receive, send)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._twilio_signed(scope):
            await self.app(scope, receive, send)
            return
        ip = client_ip(scope, self.trusted)
        limits = self.limits
        # every attempt counts towards connects/s, refused ones too (a flood of attempts is the attack)
        wait = self.ws_rate.hit(ip, self.clock.now()) if self.ws_rate is not None else 0.0
        if wait:
            self.refused += 1
            await _refuse_websocket(
                scope, send, wait, f"at most {limits.ws_per_second} connects/s per client"
            )
            return
        if limits.ws_max and self.ws_open.get(ip, 0) >= limits.ws_max:
            self.refused += 1
            await _refuse_websocket(scope, send, 1.0, f"at most {limits.ws_max} WebSockets per client")
            return
        self.ws_open[ip] = self.ws_open.get(ip, 0) + 1
        try:
            await self.app(scope, receive, send)
        finally:
            left = self.ws_open[ip] - 1
            if left:
                self.ws_open[ip] = left
            else:
                del self.ws_open[ip]


def _retry_after(wait: float) -> bytes:
    return str(max(1, math.ceil(wait))).encode()


async def _refuse_http(send: Send, wait: float, message: str) -> None:
    body = f"too many requests ({message}); retry later".encode()
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"retry-after", _retry_after(wait)),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": 429, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _refuse_websocket(scope: Scope, send: Send, wait: float, message: str) -> None:
    if "websocket.http.response" in scope.get("extensions", {}):
        await _refuse_http(
            lambda m: send({**m, "type": m["type"].replace("http.", "websocket.http.")}), wait, message
        )
        return
    await send({"type": "websocket.close", "code": 1008, "reason": "too many connections"})
