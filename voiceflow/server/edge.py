"""The server's edge: bounded bodies and heads, trusted Host, security headers, tokens, admission.

``Edge`` holds what the routes consult: the token signer (``GET /token`` gives
the page its short-lived token; ``/ws`` and ``/webrtc/offer`` require one), the
one-time Media Streams tokens the webhook issues, the admission bounds and the
origin allow-list. ``install`` wraps the app in ``EdgeMiddleware`` and
``BodyLimits``; ``create_app`` calls it for every app, whatever routes it has.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.requests import HTTPConnection

from voiceflow.config import ConfigError, GuardSettings
from voiceflow.guard.admission import Admission, Full, SharedSlots
from voiceflow.guard.http_limits import BodyLimits
from voiceflow.guard.origin import EdgeMiddleware, origin_allowed
from voiceflow.guard.tokens import PAGE, STREAM, SQLiteNonces, StreamTokens, TokenError, TokenSigner
from voiceflow.transports.twilio.twiml import stream_subject

__all__ = ["TOKEN_HEADER", "Edge", "install", "refuse_full"]

log = logging.getLogger("voiceflow.server.edge")

TOKEN_HEADER = "x-voiceflow-token"
#: per-path body bounds tighter than the default (a webhook is a few hundred bytes of form)
BODY_LIMITS = {"/twilio/": 16 * 1024, "/webrtc/offer": 64 * 1024 + 4096, "/admin/": 8 * 1024 * 1024}


class Edge:
    """What the routes check before a call is built (see module doc)."""

    def __init__(self, guard: GuardSettings, public_host: str | None) -> None:
        if guard.env == "production" and not public_host:
            raise ConfigError(
                ["VOICEFLOW_ENV=production requires VOICEFLOW_PUBLIC_HOST (the Host header is not trusted)"]
            )
        self.guard = guard
        self.public_host = public_host
        self.signer = TokenSigner(guard.secret)
        secret = guard.secret if guard.workers > 1 else None  # several workers: what they share
        shared = SQLiteNonces(shared_nonce_path(secret)) if secret else None
        self.stream_tokens = StreamTokens(self.signer, guard.stream_token_ttl_s, shared)
        self.admission = Admission(
            max_calls=guard.max_calls,
            max_per_address=guard.max_calls_per_address,
            max_pending=guard.max_pending_offers,
            retry_after_s=guard.retry_after_s,
            # the bounds are the server's: every worker counts in one file
            shared=SharedSlots(shared_nonce_path(secret, "slots")) if secret else None,
        )
        self.origins = guard.origins
        self.refused_origin = 0
        self.refused_token = 0

    def outbound_token(self) -> str:
        """The one-time token for the TwiML of a call we place (valid through ringing and AMD)."""
        ttl = self.guard.stream_token_ttl_s + 120
        return self.signer.issue(STREAM, stream_subject("", None, outbound=True), ttl)

    def page_token(self) -> str:
        return self.signer.issue(PAGE, "", self.guard.page_token_ttl_s)

    def check_browser(self, conn: HTTPConnection) -> str | None:
        """Why this browser-side request (``/ws``, an offer) may not connect, or None when it may."""
        host = self.public_host or conn.headers.get("host")
        if not origin_allowed(conn.headers.get("origin"), host, self.origins):
            self.refused_origin += 1
            return "origin not allowed"
        token = conn.headers.get(TOKEN_HEADER) or conn.query_params.get("token")
        try:
            self.signer.check(PAGE, "", token)
        except TokenError as exc:
            self.refused_token += 1
            return f"{exc}; get one from GET /token"
        return None


def shared_nonce_path(secret: str, what: str = "stream-tokens") -> Path:
    """A file the processes of one server share (used tokens; ``"slots"``: admission), named by a
    digest of their secret."""
    digest = hashlib.sha256(b"voiceflow-nonces\n" + secret.encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"voiceflow-{what}-{digest}.sqlite"


def client_address(conn: HTTPConnection) -> str | None:
    return conn.client.host if conn.client is not None else None


def refuse_full(exc: Full) -> JSONResponse:
    return JSONResponse({"error": str(exc)}, status_code=503, headers={"Retry-After": str(exc.retry_after_s)})


def install(app: FastAPI, edge: Edge) -> None:

    @app.get("/token", include_in_schema=False)
    async def token(request: Request) -> JSONResponse:
        """The page's short-lived token for ``/ws`` and ``/webrtc/offer`` (same-origin pages only)."""
        if not origin_allowed(request.headers.get("origin"), edge.public_host or request.headers.get("host"),
                              edge.origins):  # fmt: skip
            return JSONResponse({"error": "origin not allowed"}, status_code=403)
        ttl = edge.guard.page_token_ttl_s
        return JSONResponse(
            {"token": edge.page_token(), "expires_in_s": ttl}, headers={"Cache-Control": "no-store"}
        )

    guard = edge.guard
    app.add_middleware(
        BodyLimits,
        max_body_bytes=guard.max_body_bytes,
        body_timeout_s=guard.body_timeout_s,
        limits=BODY_LIMITS,
    )
    app.add_middleware(EdgeMiddleware, public_host=edge.public_host)
