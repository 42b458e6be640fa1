"""Signed, short-lived tokens: one-time Media Streams tokens and the page's token.

A token is ``<expiry>.<nonce>.<mac>`` (URL-safe): an HMAC-SHA256 over the
purpose, the subject (a CallSid for a stream, nothing for the page), the expiry
and a random nonce, under the server's secret (``VOICEFLOW_SECRET``, or a
random one per start). Nothing is stored at issue time, so any process holding
the secret can check a token. A stream token is also one-time: its nonce is
remembered until it would have expired anyway (``consume`` refuses a replay):
in memory for one process, in a shared SQLite file (``SQLiteNonces``) when
several server processes share the port.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["StreamTokens", "TokenError", "TokenSigner"]

PAGE = "page"
STREAM = "stream"


class TokenError(ValueError):
    """The token is missing, malformed, forged, for another subject, expired or already used."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class TokenSigner:
    """Issues and checks ``purpose``/``subject``-bound tokens (see module doc)."""

    def __init__(self, secret: str | bytes | None = None, *, now: Callable[[], float] = time.time) -> None:
        if secret is None:
            secret = secrets.token_bytes(32)
        self._key = secret.encode("utf-8") if isinstance(secret, str) else secret
        self.now = now

    def _mac(self, purpose: str, subject: str, expiry: int, nonce: str) -> str:
        message = f"{purpose}\n{subject}\n{expiry}\n{nonce}".encode()
        return _b64(hmac.new(self._key, message, hashlib.sha256).digest()[:18])

    def issue(self, purpose: str, subject: str, ttl_s: float) -> str:
        expiry = int(self.now() + ttl_s)
        nonce = _b64(secrets.token_bytes(12))
        return f"{expiry}.{nonce}.{self._mac(purpose, subject, expiry, nonce)}"

    def check(self, purpose: str, subject: str, token: object) -> tuple[int, str]:
        """(expiry, nonce) of a valid token; ``TokenError`` saying why it is not."""
        if not isinstance(token, str) or not token:
            raise TokenError("no token")
        parts = token.split(".")
        if len(token) > 128 or len(parts) != 3 or not parts[0].isdigit():
            raise TokenError("malformed token")
        expiry, nonce, mac = int(parts[0]), parts[1], parts[2]
        if not hmac.compare_digest(mac, self._mac(purpose, subject, expiry, nonce)):
            raise TokenError(f"token is not valid for this {purpose}")
        if expiry < self.now():
            raise TokenError("token expired")
        return expiry, nonce


class SQLiteNonces:
    """Used nonces shared by the processes of one server (the PRIMARY KEY makes a claim atomic)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn = sqlite3.connect(path, timeout=5.0, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS used (nonce TEXT PRIMARY KEY, expiry INTEGER NOT NULL)"
        )

    def claim(self, nonce: str, expiry: int, now: float) -> bool:
        """True the first time ``nonce`` is claimed (by any process), False after."""
        self._conn.execute("DELETE FROM used WHERE expiry < ?", (int(now),))
        try:
            self._conn.execute("INSERT INTO used (nonce, expiry) VALUES (?, ?)", (nonce, expiry))
        except sqlite3.IntegrityError:
            return False
        return True

    def close(self) -> None:
        self._conn.close()


class StreamTokens:
    """One-time tokens binding a Media Streams socket to the CallSid the signed webhook saw."""

    def __init__(self, signer: TokenSigner, ttl_s: float = 60.0, shared: SQLiteNonces | None = None) -> None:
        self.signer = signer
        self.ttl_s = ttl_s
        self.shared = shared
        self._used: dict[str, int] = {}  # nonce -> expiry; pruned as they expire

    def issue(self, call_sid: str) -> str:
        return self.signer.issue(STREAM, call_sid, self.ttl_s)

    def consume(self, call_sid: str, token: object) -> None:
        """Accept ``token`` for ``call_sid`` once; ``TokenError`` otherwise."""
        now = self.signer.now()
        for old in [n for n, exp in self._used.items() if exp < now]:
            del self._used[old]
        expiry, nonce = self.signer.check(STREAM, call_sid, token)
        if nonce in self._used or (self.shared is not None and not self.shared.claim(nonce, expiry, now)):
            raise TokenError("token already used")
        self._used[nonce] = expiry

    @property
    def remembered(self) -> int:
        return len(self._used)
