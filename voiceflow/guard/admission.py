"""Admission of new calls: a total bound and a per-address bound, checked before anything is built.

A ``Slot`` is held from the moment a call is admitted (an answered WebRTC offer,
a Media Streams ``start`` with a valid token, a browser socket) until it ends;
``acquire`` raises ``Full`` (HTTP 503 / WebSocket 1013, both with a Retry-After)
when the process holds ``max_calls`` slots or the address holds
``max_per_address``. Unconnected WebRTC offers have their own, smaller bound
(``max_pending``): an offer costs a peer connection but no pipeline until ICE
connects. Twilio streams all come from Twilio's addresses, so they take no
per-address share (``per_address=False``).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

__all__ = ["Admission", "Full", "Slot"]

log = logging.getLogger("voiceflow.guard.admission")


class Full(RuntimeError):
    """No room for another call now; ``retry_after_s`` says when to try again."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


@dataclass
class Slot:
    admission: Admission
    address: str | None
    pending: bool = False
    released: bool = False

    def connected(self) -> None:
        """A pending offer's media flows: it now counts as a live call (its total slot it already holds)."""
        if self.pending and not self.released:
            self.pending = False
            self.admission.pending -= 1

    def release(self) -> None:
        if self.released:
            return
        self.released = True
        a = self.admission
        a.held -= 1
        if self.pending:
            a.pending -= 1
        if self.address is not None:
            a.by_address[self.address] -= 1
            if a.by_address[self.address] <= 0:
                del a.by_address[self.address]


@dataclass
class Admission:
    max_calls: int = 24
    max_per_address: int = 8
    max_pending: int = 16
    retry_after_s: int = 5
    held: int = 0
    pending: int = 0
    refused: int = 0
    by_address: Counter[str] = field(default_factory=Counter)

    def acquire(self, address: str | None, *, per_address: bool = True, pending: bool = False) -> Slot:
        """A slot for a new call from ``address``; ``Full`` with a reason when there is none."""
        reason = None
        if self.held >= self.max_calls:
            reason = f"this server holds its limit of {self.max_calls} calls"
        elif pending and self.pending >= self.max_pending:
            reason = f"{self.pending} offers are waiting to connect (limit {self.max_pending})"
        elif per_address and address is not None and self.by_address[address] >= self.max_per_address:
            reason = f"your address holds its limit of {self.max_per_address} calls"
        if reason is not None:
            self.refused += 1
            if self.refused == 1 or self.refused % 100 == 0:
                log.warning("admission refused (%d so far): %s", self.refused, reason)
            raise Full(reason + "; try again later", self.retry_after_s)
        key = address if per_address else None
        self.held += 1
        if pending:
            self.pending += 1
        if key is not None:
            self.by_address[key] += 1
        return Slot(self, key, pending=pending)
