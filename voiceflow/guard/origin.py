"""Who may connect from a browser, which Host is trusted, and the page's security headers.

``origin_allowed``: browsers send ``Origin`` on every WebSocket handshake and
cross-origin POST; a request whose Origin is neither the server's own (the
trusted host) nor on ``VOICEFLOW_ALLOWED_ORIGINS`` is refused. A request
without Origin is not from a browser page and passes (it still needs a token).

``EdgeMiddleware`` (ASGI) refuses a request whose Host is not the configured
public host (loopback names are allowed for local health checks) once one is
configured, and adds ``nosniff``/``X-Frame-Options``/``Referrer-Policy`` to every
response and a Content-Security-Policy to HTML.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from urllib.parse import urlsplit

from voiceflow.guard.http_limits import ASGIApp, Message, Receive, Scope, Send, error_response

__all__ = ["CSP", "EdgeMiddleware", "host_of", "origin_allowed"]

log = logging.getLogger("voiceflow.guard.origin")

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self' blob: mediastream:; connect-src 'self' ws: wss:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
LOOPBACK = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})
_COMMON = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]


def header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> str | None:
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")
    return None


def host_of(netloc: str) -> str:
    """The host part of ``host[:port]`` (lower-case; IPv6 keeps its brackets)."""
    netloc = netloc.strip().lower()
    if netloc.startswith("["):
        return netloc[: netloc.find("]") + 1] if "]" in netloc else netloc
    return netloc.rsplit(":", 1)[0] if netloc.count(":") == 1 else netloc


def origin_allowed(origin: str | None, host: str | None, allowed: frozenset[str]) -> bool:
    """Whether a request with this ``Origin`` may use the call endpoints (see module doc)."""
    if origin is None:
        return True
    origin = origin.strip().rstrip("/").lower()
    if origin in allowed:
        return True
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc or host is None:
        return False  # "null" (sandboxed frames, file://) and anything odd
    return parts.netloc == host.strip().lower()


class EdgeMiddleware:
    """Trusted Host and security headers (see module doc)."""

    def __init__(self, app: ASGIApp, *, public_host: str | None, extra_hosts: Iterable[str] = ()) -> None:
        self.app = app
        self.public_host = public_host.lower() if public_host else None
        self.trusted = {host_of(public_host)} | LOOPBACK | set(extra_hosts) if public_host else set()
        self.refused_hosts = 0

    def host_trusted(self, host: str | None) -> bool:
        return not self.trusted or (host is not None and host_of(host) in self.trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host = header(scope["headers"], b"host")
        if not self.host_trusted(host):
            self.refused_hosts += 1
            log.warning("refused a request for untrusted Host %.60r", host)
            if scope["type"] == "http":
                await error_response(send, 421, "unknown Host; this server answers for its public host only")
            else:
                await send({"type": "websocket.close", "code": 1008, "reason": "untrusted Host"})
            return
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in _COMMON if k not in names]
                ctype = header(headers, b"content-type") or ""
                if ctype.startswith("text/html") and b"content-security-policy" not in names:
                    headers.append((b"content-security-policy", CSP.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
