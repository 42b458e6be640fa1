"""Bearer-token authentication on every ``/admin`` route (and, optionally, ``/metrics``), with an audit log.

ASGI middleware rather than a per-route dependency, so a route added under
``/admin`` later (campaigns) is covered without anyone remembering to: reading
(``GET``/``HEAD``) needs the ``read`` scope, anything else the ``admin`` scope. The
token is ``Authorization: Bearer <token>``, checked against the hashed entries of
``VOICEFLOW_ADMIN_TOKENS`` in constant time (the telephony's single
``VOICEFLOW_ADMIN_TOKEN``, when set, counts as one more ``admin`` token). Refusals are
401 (no or unknown token, with ``WWW-Authenticate``), 403 (scope too small), 503 (no
token configured: the admin API is closed), as ``{"detail": message}``. Every
``/admin`` request, allowed or refused, is written to the audit log with its status;
the routes read who asked from ``scope["state"]["admin"]``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from voiceflow.security.audit_log import AuditEntry, AuditLog
from voiceflow.security.client_ip import TrustedProxies, client_ip
from voiceflow.security.tokens import AdminToken, TokenStore

__all__ = ["ADMIN_PREFIX", "AdminAuthMiddleware", "required_scope"]

log = logging.getLogger("voiceflow.security.admin")

ADMIN_PREFIX = "/admin"
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def required_scope(method: str) -> str:
    return "read" if method in ("GET", "HEAD") else "admin"


def _bearer(scope: Scope) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == b"authorization":
            kind, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if kind.lower() == "bearer" and token.strip() else None
    return None


def _action(method: str, path: str) -> str:
    """A readable action name: ``GET /admin/calls/CA1`` → ``calls.read``."""
    parts = [p for p in path.removeprefix(ADMIN_PREFIX).split("/") if p]
    verb = {
        "GET": "read",
        "HEAD": "read",
        "POST": "create",
        "PUT": "update",
        "PATCH": "update",
        "DELETE": "delete",
    }.get(method, method.lower())
    return f"{parts[0] if parts else 'root'}.{verb}"


class AdminAuthMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        tokens: TokenStore,
        audit: Callable[[], Awaitable[AuditLog]],
        trusted: TrustedProxies | None = None,
        protect_metrics: bool = False,
    ) -> None:
        self.app = app
        self.tokens = tokens
        self.audit = audit
        self.trusted = trusted or TrustedProxies()
        self.protect_metrics = protect_metrics

    def _guarded(self, path: str) -> bool:
        if path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/"):
            return True
        return self.protect_metrics and path == "/metrics"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] not in ("http", "websocket") or not self._guarded(path):
            await self.app(scope, receive, send)
            return
        method = str(scope.get("method", "GET")) if scope["type"] == "http" else "WEBSOCKET"
        need = required_scope(method)
        presented = _bearer(scope)
        token = self.tokens.verify(presented) if presented else None
        ip = client_ip(scope, self.trusted)
        audited = path.startswith(ADMIN_PREFIX)
        if token is None or not token.allows(need):
            status = 401 if token is None else 403
            if not self.tokens:
                status = 503
                message = "the admin API is closed: no admin tokens are configured (VOICEFLOW_ADMIN_TOKENS)"
            elif token is None:
                message = "a valid admin bearer token is required (Authorization: Bearer ...)"
            else:
                message = f"token {token.name!r} has scope {token.scope!r}; this needs {need!r}"
            if audited:
                await self._record(token, method, path, "auth.denied", status, ip)
            await _refuse(scope, receive, send, status, message)
            return
        scope.setdefault("state", {})["admin"] = token
        status_seen = 500

        async def watch(message: Message) -> None:
            nonlocal status_seen
            if message["type"] == "http.response.start":
                status_seen = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            if audited:
                await self._record(token, method, path, _action(method, path), status_seen, ip)

    async def _record(
        self, token: AdminToken | None, method: str, path: str, action: str, status: int, ip: str
    ) -> None:
        entry = AuditEntry(
            actor=token.name if token else "anonymous",
            scope=token.scope if token else "",
            method=method,
            path=path,
            action=action,
            status=status,
            target=path.removeprefix(ADMIN_PREFIX).strip("/"),
            client_ip=ip,
        )
        try:
            await (await self.audit()).record(entry)
        except Exception:  # the request's answer stands; a lost audit row is an error in the log
            log.exception("could not write the admin audit log entry for %s %s", method, path)


async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, message: str) -> None:
    if scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.close", "code": 1008, "reason": "unauthorized"})
        return
    body = json.dumps({"detail": message}).encode()  # FastAPI's error shape
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="voiceflow-admin"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
