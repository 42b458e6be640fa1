"""Admission of new calls: a total bound and a per-address bound, checked before anything is built.

A ``Slot`` is held from the moment a call is admitted (an answered WebRTC offer,
a Media Streams ``start`` with a valid token, a browser socket) until it ends;
``acquire`` raises ``Full`` (HTTP 503 / WebSocket 1013, both with a Retry-After)
when the server holds ``max_calls`` slots or the address holds
``max_per_address``. Unconnected WebRTC offers have their own, smaller bound
(``max_pending``): an offer costs a peer connection but no pipeline until ICE
connects. Twilio streams all come from Twilio's addresses, so they take no
per-address share (``per_address=False``).

The bounds are the server's, not one process's: with ``--workers N`` every
worker counts in one ``SharedSlots`` SQLite file (check-and-take in one
``BEGIN IMMEDIATE`` transaction; a dead worker's slots are swept by pid), so
``VOICEFLOW_MAX_CALLS=24`` means 24 calls however the kernel spread them.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from voiceflow.processes import pid_alive

__all__ = ["Admission", "Full", "SharedSlots", "Slot"]

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
    #: its row in the shared file (None without one)
    row: int | None = None

    def connected(self) -> None:
        """A pending offer's media flows: it now counts as a live call (its total slot it already holds)."""
        if self.pending and not self.released:
            self.pending = False
            self.admission.pending -= 1
            if self.row is not None and self.admission.shared is not None:
                self.admission.shared.connected(self.row)

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
        if self.row is not None and a.shared is not None:
            a.shared.release(self.row)


class SharedSlots:
    """The slots every worker of one server holds, in one SQLite file (see module doc)."""

    def __init__(self, path: Path, *, pid: int | None = None) -> None:
        self.path = path
        self.pid = os.getpid() if pid is None else pid
        self._conn = sqlite3.connect(path, timeout=2.0, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        # live processes' slots need no durability: no fsync on the event loop per admitted call
        self._conn.execute("PRAGMA synchronous=OFF")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS slots (id INTEGER PRIMARY KEY AUTOINCREMENT, pid INTEGER NOT NULL,"
            " address TEXT, pending INTEGER NOT NULL)"
        )
        # a process that starts holds no slot yet: rows under its pid are a dead predecessor's
        self._conn.execute("DELETE FROM slots WHERE pid = ?", (self.pid,))

    def take(self, a: Admission, address: str | None, pending: bool) -> int | str:
        """A new row id, or the reason there is no room (checked and taken atomically)."""
        c = self._conn
        c.execute("BEGIN IMMEDIATE")
        try:
            self._sweep()
            held = c.execute("SELECT COUNT(*) FROM slots").fetchone()[0]
            waiting = c.execute("SELECT COUNT(*) FROM slots WHERE pending = 1").fetchone()[0]
            mine = 0
            if address is not None:
                mine = c.execute("SELECT COUNT(*) FROM slots WHERE address = ?", (address,)).fetchone()[0]
            reason = a.refusal(held, waiting, mine, offer=pending, per_address=address is not None)
            if reason is not None:
                c.execute("COMMIT")
                return reason
            row = (self.pid, address, int(pending))
            cur = c.execute("INSERT INTO slots (pid, address, pending) VALUES (?, ?, ?)", row)
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise
        assert cur.lastrowid is not None
        return cur.lastrowid

    def connected(self, row: int) -> None:
        self._conn.execute("UPDATE slots SET pending = 0 WHERE id = ?", (row,))

    def release(self, row: int) -> None:
        self._conn.execute("DELETE FROM slots WHERE id = ?", (row,))

    def held(self) -> int:
        return int(self._conn.execute("SELECT COUNT(*) FROM slots").fetchone()[0])

    def _sweep(self) -> None:
        """Drop the rows of workers that died holding slots (killed, crashed)."""
        for (pid,) in self._conn.execute("SELECT DISTINCT pid FROM slots").fetchall():
            if pid != self.pid and not pid_alive(pid):
                n = self._conn.execute("DELETE FROM slots WHERE pid = ?", (pid,)).rowcount
                log.warning("released %d admission slot(s) of worker %d, which is gone", n, pid)

    def close(self) -> None:
        self._conn.close()


@dataclass
class Admission:
    max_calls: int = 24
    max_per_address: int = 8
    max_pending: int = 16
    retry_after_s: int = 5
    #: this process's own slots (with ``shared``, the bounds count every worker's)
    held: int = 0
    pending: int = 0
    refused: int = 0
    by_address: Counter[str] = field(default_factory=Counter)
    shared: SharedSlots | None = None

    def refusal(self, held: int, pending: int, mine: int, *, offer: bool, per_address: bool) -> str | None:
        """Why a new slot (``offer``: an unconnected offer) may not be taken with these counts, or None."""
        if held >= self.max_calls:
            return f"this server holds its limit of {self.max_calls} calls"
        if offer and pending >= self.max_pending:
            return f"{pending} offers are waiting to connect (limit {self.max_pending})"
        if per_address and mine >= self.max_per_address:
            return f"your address holds its limit of {self.max_per_address} calls"
        return None

    def acquire(self, address: str | None, *, per_address: bool = True, pending: bool = False) -> Slot:
        """A slot for a new call from ``address``; ``Full`` with a reason when there is none."""
        key = address if per_address else None
        row: int | None = None
        if self.shared is not None:
            taken = self.shared.take(self, key, pending)
            reason, row = (taken, None) if isinstance(taken, str) else (None, taken)
        else:
            mine = self.by_address[key] if key is not None else 0
            reason = self.refusal(self.held, self.pending, mine, offer=pending, per_address=key is not None)
        if reason is not None:
            self.refused += 1
            if self.refused == 1 or self.refused % 100 == 0:
                log.warning("admission refused (%d so far): %s", self.refused, reason)
            raise Full(reason + "; try again later", self.retry_after_s)
        self.held += 1
        if pending:
            self.pending += 1
        if key is not None:
            self.by_address[key] += 1
        return Slot(self, key, pending=pending, row=row)
