"""The ``/admin`` routes' guard: ``Authorization: Bearer <VOICEFLOW_ADMIN_TOKEN>``, compared in constant time.

One small FastAPI dependency, so a richer scheme (scoped, hashed tokens) can
replace it in one place. No token configured means the admin API is closed
(503), never open.
"""

from __future__ import annotations

import hmac

from fastapi import Header, HTTPException

__all__ = ["BearerToken"]


class BearerToken:
    """``Depends(BearerToken(expected))``: 401 without the right bearer token, 503 when none is set."""

    def __init__(self, expected: str | None) -> None:
        self.expected = expected

    async def __call__(self, authorization: str | None = Header(default=None)) -> None:
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
