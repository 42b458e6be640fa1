"""Retention: stored transcripts, call history and idle caller profiles older than N days are purged.

``purge(db_path, days)`` deletes, in one transaction, ``conversation_turns`` and
``call_history`` rows older than the cut-off and the ``user_memory`` profiles of
callers not seen since; it returns what it removed. The server runs it once at
start and then daily when ``VOICEFLOW_RETENTION_DAYS`` is set (``RetentionJob``);
``voiceflow audit --purge`` and ``POST /admin/purge`` run it on demand. The admin
audit log is kept (it has its own, longer, retention obligations).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from voiceflow.core.clock import Clock
from voiceflow.db import connect, transaction

__all__ = ["DB_FILE", "RetentionJob", "cutoff", "purge"]

log = logging.getLogger("voiceflow.compliance.retention")

DB_FILE = "voiceflow.db"
#: (table, timestamp column) purged by age; user_memory goes by last_seen
AGED = (("conversation_turns", "created_at"), ("call_history", "started_at"), ("user_memory", "last_seen"))


def cutoff(days: int, now: datetime | None = None) -> str:
    return ((now or datetime.now(UTC)) - timedelta(days=days)).isoformat()


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def purge(db_path: Path, days: int, *, now: datetime | None = None) -> dict[str, int]:
    """Delete what is older than ``days``; ``{table: rows deleted}`` (missing tables are skipped)."""
    if not Path(db_path).exists():
        return {}
    limit = cutoff(days, now)
    conn = connect(db_path)
    try:
        present = _tables(conn)

        def work(c: sqlite3.Connection) -> dict[str, int]:
            deleted: dict[str, int] = {}
            for table, column in AGED:
                if table in present:  # children first: turns and history reference user_memory
                    deleted[table] = c.execute(f"DELETE FROM {table} WHERE {column} < ?", (limit,)).rowcount
            return deleted

        return transaction(conn, work)
    finally:
        conn.close()


class RetentionJob:
    """Purges at start and every ``every_s`` seconds on the given clock, off the event loop."""

    def __init__(
        self,
        db_path: Path,
        days: int,
        clock: Clock,
        *,
        every_s: float = 86400.0,
        on_purge: Callable[[dict[str, int]], None] | None = None,
    ) -> None:
        self.db_path = db_path
        self.days = days
        self.clock = clock
        self.every_s = every_s
        self.on_purge = on_purge
        self.runs = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="retention-purge")

    async def _loop(self) -> None:
        while True:
            try:
                deleted = await asyncio.to_thread(purge, self.db_path, self.days)
                self.runs += 1
                if any(deleted.values()):
                    log.info("retention purge (%d days): %s", self.days, deleted)
                if self.on_purge is not None:
                    self.on_purge(deleted)
            except Exception:  # a locked or broken database must not stop the server; tried again later
                log.exception("retention purge of %s failed", self.db_path)
            await self.clock.sleep(self.every_s)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
