"""The server's security layer: middleware and call hooks, installed last so they wrap every route.

Outermost first: per-IP rate limits → admin bearer-token auth (``/admin``, and
``/metrics`` when ``VOICEFLOW_METRICS_AUTH=on``) with the audit log → Twilio
signatures on everything under ``/twilio/``. Call hooks: each call's log lines
carry its id, its metrics are observed, and it is ended after
``VOICEFLOW_MAX_CALL_SECONDS`` (the session timeout). The admin audit log opens
lazily in ``DATA_DIR/audit.db`` and closes with the app.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from fastapi import FastAPI

from voiceflow.calls import CallSession
from voiceflow.observability.logs import bind_call
from voiceflow.observability.metrics import install_call_metrics
from voiceflow.security.admin_auth import AdminAuthMiddleware
from voiceflow.security.audit_log import AuditLog
from voiceflow.security.client_ip import TrustedProxies
from voiceflow.security.rate_limit import RateLimitMiddleware, RateLimits
from voiceflow.security.tokens import AdminToken, TokenStore, hash_token
from voiceflow.security.twilio_signature import TwilioSignatureMiddleware

if TYPE_CHECKING:
    from voiceflow.server.app import ServerState

log = logging.getLogger("voiceflow.server.guard")


class AuditLogHolder:
    """Opens the audit log on first use (one per app) and closes it at shutdown."""

    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.log: AuditLog | None = None
        self._lock = asyncio.Lock()

    async def __call__(self) -> AuditLog:
        async with self._lock:
            if self.log is None:
                self.log = await AuditLog.open(self.state.data_dir)
            return self.log

    async def close(self) -> None:
        audit, self.log = self.log, None
        if audit is not None:
            await audit.close()


class SessionTimeouts:
    """Ends a call that outlives ``max_seconds`` (a timer per call; cancelled when the call closes)."""

    def __init__(self, state: ServerState, max_seconds: float) -> None:
        self.state = state
        self.max_seconds = max_seconds
        self.timers: dict[str, asyncio.TimerHandle] = {}
        self.ending: set[asyncio.Task[None]] = set()
        self.expired = 0

    def opened(self, session: CallSession) -> None:
        call_id = session.ctx.call_id
        loop = asyncio.get_running_loop()
        self.timers[call_id] = loop.call_later(self.max_seconds, self._expire, call_id)

    def closed(self, session: CallSession) -> None:
        timer = self.timers.pop(session.ctx.call_id, None)
        if timer is not None:
            timer.cancel()

    def _expire(self, call_id: str) -> None:
        self.timers.pop(call_id, None)
        self.expired += 1
        log.warning("call %s reached the %gs session limit; ending it", call_id, self.max_seconds)
        task = asyncio.get_running_loop().create_task(self.state.calls.close(call_id, drain=False))
        self.ending.add(task)
        task.add_done_callback(self.ending.discard)

    async def close(self) -> None:
        for timer in self.timers.values():
            timer.cancel()
        self.timers.clear()
        await asyncio.gather(*self.ending, return_exceptions=True)


def _bind_call_id(session: CallSession) -> None:
    bind_call(session.ctx.call_id)  # the call's tasks start from here and inherit it


def install(app: FastAPI, state: ServerState) -> None:
    security = state.security
    trusted = TrustedProxies.parse(security.trusted_proxies)
    tokens = TokenStore.parse(security.admin_tokens)
    # VOICEFLOW_ADMIN_TOKEN (telephony, sessions): one plain admin token
    legacy = state.admin_token or getattr(state.pipeline, "admin_token", None)
    if legacy:
        tokens.tokens.append(AdminToken("admin-token", "admin", hash_token(legacy)))
    audit = AuditLogHolder(state)
    app.state.audit_log = audit
    state.on_shutdown.append(audit.close)

    app.add_middleware(
        TwilioSignatureMiddleware,
        auth_token=state.settings.twilio_auth_token,
        public_host=state.settings.public_host,
    )
    app.add_middleware(
        AdminAuthMiddleware,
        tokens=tokens,
        audit=audit,
        trusted=trusted,
        protect_metrics=security.metrics_auth == "on",
    )
    limits = RateLimits(
        requests=security.rate_limit_requests,
        window_s=security.rate_limit_window_s,
        ws_max=security.ws_max_per_ip,
        ws_per_second=security.ws_connects_per_s,
        exempt_signed_twilio=state.settings.twilio_auth_token is not None,
    )
    app.add_middleware(RateLimitMiddleware, limits=limits, trusted=trusted, clock=state.clock)

    state.calls.on_open.append(_bind_call_id)
    app.state.call_metrics = install_call_metrics(state.calls)
    timeouts = SessionTimeouts(state, security.max_call_seconds)
    state.calls.on_open.append(timeouts.opened)
    state.calls.on_close.append(timeouts.closed)
    state.on_shutdown.append(timeouts.close)
    app.state.session_timeouts = timeouts
