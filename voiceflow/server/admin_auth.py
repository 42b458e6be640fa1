"""The ``/admin`` routes' guard: ``Authorization: Bearer <VOICEFLOW_ADMIN_TOKEN>``, compared in constant time.

One small FastAPI dependency. In the full server the security guard's middleware
(``voiceflow.security.admin_auth``: hashed, scoped tokens, the audit log) has already
checked the request and left the token it matched in the request's state; this
dependency then lets it through. Without that middleware (an app built with fewer
route modules) it checks the single token itself. No token configured means the
admin API is closed (503), never open.
"""

from __future__ import annotations

import hmac

from fastapi import Header, HTTPException, Request

__all__ = ["BearerToken"]


class BearerToken:
    """``Depends(BearerToken(expected))``: 401 without the right bearer token, 503 when none is set."""

    def __init__(self, expected: str | None) -> None:
        self.expected = expected

    async def __call__(self, request: Request, authorization: str | None = Header(default=None)) -> None:
        if request.scope.get("state", {}).get("admin") is not None:
            return  # the security middleware verified a scoped token (and audits the request)
        if not self.expected:
            raise HTTPException(503, "the admin API is disabled: set VOICEFLOW_ADMIN_TOKEN")
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            token.strip().encode(), self.expected.encode()
        ):
            raise HTTPException(
                401,
                "a valid 'Authorization: Bearer <admin token>' header is required",
                headers={"WWW-Authenticate": "Bearer"},
            )
