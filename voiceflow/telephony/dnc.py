"""The Do-Not-Call list: numbers (E.164) we never dial, whatever campaign they are in.

Added from a file, through the admin API, or by voice (a callee who asks not to
be called again). The dialer checks it immediately before every dial, so a
number added while a campaign runs is never rung again.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime

from voiceflow.db import Database
from voiceflow.telephony.numbers import InvalidNumber, to_e164

__all__ = ["DoNotCall"]


class DoNotCall:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(self, number: str, *, source: str, reason: str = "", at: float | None = None) -> str:
        """Add one number (normalised); returns it. ``InvalidNumber`` for a bad one."""
        phone = to_e164(number)
        stamp = datetime.fromtimestamp(at, UTC) if at is not None else datetime.now(UTC)
        await self.db.write(
            lambda c: c.execute(
                "INSERT OR IGNORE INTO dnc (phone, source, reason, added_at) VALUES (?, ?, ?, ?)",
                (phone, source, reason, stamp.isoformat(timespec="seconds")),
            )
        )
        return phone

    async def add_many(self, numbers: Iterable[str], *, source: str) -> tuple[int, list[str]]:
        """(numbers added, one message per bad entry); bad entries never stop the good ones."""
        good: list[str] = []
        problems: list[str] = []
        for i, raw in enumerate(numbers, 1):
            if not raw.strip() or raw.strip().lower() in ("phone", "number"):
                continue
            try:
                good.append(to_e164(raw))
            except InvalidNumber as exc:
                problems.append(f"line {i}: {exc}")
        stamp = datetime.now(UTC).isoformat(timespec="seconds")

        def insert(c: sqlite3.Connection) -> int:
            before = c.execute("SELECT COUNT(*) FROM dnc").fetchone()[0]
            c.executemany(
                "INSERT OR IGNORE INTO dnc (phone, source, added_at) VALUES (?, ?, ?)",
                [(p, source, stamp) for p in good],
            )
            return int(c.execute("SELECT COUNT(*) FROM dnc").fetchone()[0] - before)

        return await self.db.write(insert), problems

    async def remove(self, number: str) -> bool:
        phone = to_e164(number)
        cur = await self.db.write(lambda c: c.execute("DELETE FROM dnc WHERE phone = ?", (phone,)))
        return bool(cur.rowcount)

    async def contains(self, phone: str) -> bool:
        row = await self.db.read(
            lambda c: c.execute("SELECT 1 FROM dnc WHERE phone = ?", (phone,)).fetchone()
        )
        return row is not None

    async def numbers(self) -> list[dict[str, str]]:
        rows = await self.db.read(
            lambda c: c.execute("SELECT * FROM dnc ORDER BY added_at, phone").fetchall()
        )
        return [dict(r) for r in rows]
