"""Twilio signatures on every ``/twilio/`` request, checked before any route runs (ASGI middleware).

With a Twilio auth token configured, every HTTP request under ``/twilio/`` (the
voice webhook, status and AMD callbacks, whatever route is added there later) and
every WebSocket handshake under it (Media Streams: Twilio signs the upgrade
request) must carry a valid ``X-Twilio-Signature``; twilio's ``RequestValidator``
checks it. A missing or forged signature gets 403 (a WebSocket is closed before
it is accepted) and the route never runs.

The URL checked is the one Twilio requested: with a public host configured,
``https://HOST/path?query`` (``wss://`` for a WebSocket; ``https://`` is accepted
too); otherwise what the request itself says (Host header, path, query), over its
own scheme or TLS (Twilio signs the ``https``/``wss`` URL when TLS ends at a proxy).
Form bodies (at most ``MAX_BODY_BYTES``) are validated with their parameters, other
bodies as Twilio signs JSON (``bodySHA256`` in the query), then replayed to the app.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

from twilio.request_validator import RequestValidator

__all__ = ["MAX_BODY_BYTES", "TWILIO_PREFIX", "TwilioSignatureMiddleware"]

log = logging.getLogger("voiceflow.security.twilio")

TWILIO_PREFIX = "/twilio/"
#: a Twilio webhook or callback body is a few hundred bytes of form fields
MAX_BODY_BYTES = 16 * 1024

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


def signed_urls(scope: Scope, public_host: str | None) -> list[str]:
    """The URLs Twilio may have signed for this request (tried in turn)."""
    path = str(scope.get("path", ""))
    query = scope.get("query_string", b"").decode("latin-1")
    tail = path + (f"?{query}" if query else "")
    websocket = scope["type"] == "websocket"
    secure, plain = ("wss", "ws") if websocket else ("https", "http")
    if public_host:
        return [f"{secure}://{public_host}{tail}"] + ([f"https://{public_host}{tail}"] if websocket else [])
    # no public host: the request's own URL, and its TLS form (TLS may end at a proxy in front)
    host = _header(scope, b"host") or "localhost"
    return [f"{scheme}://{host}{tail}" for scheme in dict.fromkeys((str(scope.get("scheme", plain)), secure))]


class TwilioSignatureMiddleware:
    def __init__(self, app: ASGIApp, *, auth_token: str | None, public_host: str | None = None) -> None:
        self.app = app
        self.validator = RequestValidator(auth_token) if auth_token else None
        self.public_host = public_host
        self.rejected = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        guarded = scope["type"] in ("http", "websocket") and str(scope.get("path", "")).startswith(
            TWILIO_PREFIX
        )
        if self.validator is None or not guarded:
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
        else:
            await self._http(scope, receive, send)

    def _valid(self, scope: Scope, params: dict[str, str] | str) -> bool:
        signature = _header(scope, b"x-twilio-signature")
        if not signature or self.validator is None:
            return False
        return any(
            self.validator.validate(url, params, signature) for url in signed_urls(scope, self.public_host)
        )

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._valid(scope, {}):
            await self.app(scope, receive, send)
            return
        self.rejected += 1
        log.warning("twilio: WebSocket %s refused: bad or missing X-Twilio-Signature", scope.get("path"))
        message = await receive()  # websocket.connect
        if message.get("type") == "websocket.connect":
            await send({"type": "websocket.close", "code": 1008, "reason": "invalid Twilio signature"})

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        if _header(scope, b"x-twilio-signature") is None:  # same answer as a forged one
            await self._refuse(send, 403, "invalid Twilio signature", why="no X-Twilio-Signature")
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = bool(message.get("more_body"))
            if len(body) > MAX_BODY_BYTES:
                await self._refuse(send, 413, "request body too large")
                return
        params = self._params(scope, bytes(body))
        if params is None or not self._valid(scope, params):
            await self._refuse(send, 403, "invalid Twilio signature")
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    @staticmethod
    def _params(scope: Scope, body: bytes) -> dict[str, str] | str | None:
        content_type = (_header(scope, b"content-type") or "").split(";")[0].strip().lower()
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return None
        if content_type == "application/x-www-form-urlencoded" or (not content_type and not body):
            return dict(parse_qsl(text, keep_blank_values=True))
        return text  # JSON: signed with bodySHA256 in the URL's query

    async def _refuse(self, send: Send, status: int, message: str, *, why: str = "") -> None:
        self.rejected += 1
        log.warning("twilio: request refused (%d): %s", status, why or message)
        body = message.encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
