"""The admin audit log: one row per admin request, in its own SQLite file.

Who (token name and scope, or ``anonymous`` for a refused request), what (method,
path, the action's target), from where (client IP), when, and the answer's status.
Rows are only ever inserted; the file lives beside the agent's database
(``DATA_DIR/audit.db``) and the compliance auditor checks that it exists and is used.
A separate file because it has one writer pattern (append) and its own retention.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from voiceflow.db import Database

__all__ = ["AUDIT_FILE", "AuditEntry", "AuditLog"]

AUDIT_FILE = "audit.db"

SCHEMA = """
CREATE TABLE IF NOT EXISTS admin_audit (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         TEXT NOT NULL,          -- ISO 8601 UTC
    actor      TEXT NOT NULL,          -- token name, or 'anonymous'
    scope      TEXT NOT NULL DEFAULT '',
    method     TEXT NOT NULL,
    path       TEXT NOT NULL,
    action     TEXT NOT NULL,          -- e.g. 'calls.list', 'calls.end', 'auth.denied'
    target     TEXT NOT NULL DEFAULT '',
    client_ip  TEXT NOT NULL DEFAULT '',
    status     INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS admin_audit_at ON admin_audit (at);
"""


@dataclass(frozen=True, slots=True)
class AuditEntry:
    actor: str
    scope: str
    method: str
    path: str
    action: str
    status: int
    target: str = ""
    client_ip: str = ""


class AuditLog:
    """Append-only admin audit log (``await AuditLog.open(data_dir)``)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @classmethod
    async def open(cls, data_dir: Path) -> AuditLog:
        db = Database(Path(data_dir) / AUDIT_FILE)
        try:
            await db.run(lambda conn: conn.executescript(SCHEMA))
        except BaseException:
            await db.close()
            raise
        return cls(db)

    async def record(self, entry: AuditEntry) -> None:
        at = datetime.now(UTC).isoformat(timespec="milliseconds")
        row = (
            at,
            entry.actor,
            entry.scope,
            entry.method,
            entry.path[:500],
            entry.action,
            entry.target[:200],
            entry.client_ip,
            entry.status,
        )

        def insert(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO admin_audit (at, actor, scope, method, path, action, target, client_ip, status)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )

        await self.db.write(insert)

    async def recent(self, limit: int = 100) -> list[dict[str, Any]]:
        def query(conn: sqlite3.Connection) -> list[dict[str, Any]]:
            rows = conn.execute("SELECT * FROM admin_audit ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
            return [dict(r) for r in rows]

        return await self.db.read(query)

    async def close(self) -> None:
        await self.db.close()
