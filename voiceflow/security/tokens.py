"""Admin bearer tokens, stored hashed, compared in constant time, each with a scope.

``VOICEFLOW_ADMIN_TOKENS`` holds comma-separated ``name:scope:sha256hex`` entries;
the token itself is never stored. Tokens are 256-bit random strings, so a plain
SHA-256 is enough (a slow password hash protects guessable secrets; these are
not guessable). ``voiceflow admin-token NAME --scope admin`` prints a new token
and the entry to add.

Scopes: ``read`` (list calls, read the audit report, scrape metrics) and
``admin`` (everything read can do, plus actions: end a call, purge, campaigns).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

__all__ = ["SCOPES", "AdminToken", "TokenError", "TokenStore", "hash_token", "new_token"]

SCOPES = ("read", "admin")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


class TokenError(ValueError):
    """An entry of ``VOICEFLOW_ADMIN_TOKENS`` is malformed."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return "vf_" + secrets.token_urlsafe(32)


@dataclass(frozen=True, slots=True)
class AdminToken:
    name: str
    scope: str
    digest: str

    def allows(self, scope: str) -> bool:
        return self.scope == "admin" or self.scope == scope

    @property
    def entry(self) -> str:
        return f"{self.name}:{self.scope}:{self.digest}"


class TokenStore:
    """The configured tokens; ``verify`` finds the one a presented bearer token matches."""

    def __init__(self, tokens: list[AdminToken]) -> None:
        self.tokens = tokens

    @classmethod
    def parse(cls, spec: str | None) -> TokenStore:
        tokens = []
        for raw in (spec or "").split(","):
            raw = raw.strip()
            if not raw:
                continue
            name, _, rest = raw.partition(":")
            scope, _, digest = rest.partition(":")
            digest = digest.lower()
            if not _NAME.match(name):
                raise TokenError(
                    f"admin token entry {name[:20]!r}: the name must be 1-64 of A-Z a-z 0-9 _ . @ -"
                )
            if scope not in SCOPES:
                raise TokenError(
                    f"admin token {name!r}: scope {scope[:20]!r} is not one of {', '.join(SCOPES)}"
                )
            if not _HEX64.match(digest):
                raise TokenError(f"admin token {name!r}: expected the SHA-256 of the token as 64 hex digits")
            tokens.append(AdminToken(name, scope, digest))
        return cls(tokens)

    def __bool__(self) -> bool:
        return bool(self.tokens)

    def verify(self, presented: str) -> AdminToken | None:
        """The token ``presented`` matches, compared in constant time against every entry."""
        digest = hash_token(presented)
        found = None
        for token in self.tokens:  # no early exit: the time taken does not depend on which matched
            if hmac.compare_digest(digest, token.digest):
                found = token
        return found
