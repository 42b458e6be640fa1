"""Opening a SQLite file the way every voiceflow component needs it, and using it from asyncio.

``connect`` sets the pragmas (WAL, foreign keys, busy timeout) and autocommit mode
so transactions are explicit. ``Database`` is the async face the tools use.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from voiceflow.db.migrations import Migration, migrate

T = TypeVar("T")


def connect(path: str | Path, *, busy_timeout_ms: int = 5000) -> sqlite3.Connection:
    """A connection in autocommit mode with WAL, foreign keys and a busy timeout.

    Autocommit (``isolation_level=None``) so that every write states its own
    ``BEGIN IMMEDIATE`` (take the write lock up front: no deadlock-prone lock upgrade).
    """
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal" and str(path) != ":memory:":
        raise sqlite3.OperationalError(f"could not switch {path} to WAL (journal_mode={mode})")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA synchronous = NORMAL")  # durable in WAL except on power loss; the usual pairing
    return conn


def transaction(conn: sqlite3.Connection, work: Callable[[sqlite3.Connection], T]) -> T:
    """Run ``work`` inside ``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on any exception)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = work(conn)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return result


class Database:
    """One SQLite file used from asyncio through ONE dedicated thread holding ONE connection.

    Why one thread per database rather than ``asyncio.to_thread`` with a connection per
    thread: SQLite admits one writer per file at a time anyway, and a call-center query
    takes well under a millisecond, so a single thread loses no throughput while it
    (1) keeps blocking I/O off the event loop, (2) keeps the connection on the thread
    that uses it, (3) serializes this process's writes so they never wait on
    ``busy_timeout`` against each other, and (4) makes shutdown a single join. Other
    processes (or other ``Database`` objects on the same file) are kept correct by
    ``BEGIN IMMEDIATE`` + ``busy_timeout`` + the schema's UNIQUE constraints.

    A job cancelled before the thread picks it up never runs; a write already running
    completes or rolls back as a whole (a transaction is never half-applied).
    """

    def __init__(self, path: str | Path, *, busy_timeout_ms: int = 5000) -> None:
        self.path = Path(path)
        self.busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        self._executor: ThreadPoolExecutor | None = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=f"voiceflow-db:{self.path.name}"
        )
        self._connections: list[sqlite3.Connection] = []

    @classmethod
    async def open(
        cls,
        path: str | Path,
        *,
        extra: Iterable[Migration] = (),
        busy_timeout_ms: int = 5000,
    ) -> Database:
        """Open ``path`` and apply pending migrations (``voiceflow.db.seed.open_seeded`` adds demo data)."""
        db = cls(path, busy_timeout_ms=busy_timeout_ms)
        try:
            await db.migrate(extra)
        except BaseException:
            await db.close()
            raise
        return db

    # -- running work on the database thread ---------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path, busy_timeout_ms=self.busy_timeout_ms)
            self._local.conn = conn
            self._connections.append(conn)
        return conn

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` on the database thread as is (no transaction is opened for it)."""
        if self._executor is None:
            raise RuntimeError(f"database {self.path} is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: fn(self._conn()))

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """A read: WAL gives it a consistent snapshot without blocking writers."""
        return await self.run(fn)

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """A write: ``fn`` runs inside ``BEGIN IMMEDIATE``; any exception rolls it back and propagates."""
        return await self.run(lambda conn: transaction(conn, fn))

    async def migrate(self, extra: Iterable[Migration] = ()) -> list[int]:
        """Apply pending migrations (idempotent); returns the versions applied now."""
        extra = list(extra)
        return await self.run(lambda conn: migrate(conn, extra))

    async def close(self) -> None:
        """Close the connection and join the thread (idempotent)."""
        executor, self._executor = self._executor, None
        if executor is None:
            return

        def close_all() -> None:
            for conn in self._connections:
                conn.close()
            self._connections.clear()

        loop = asyncio.get_running_loop()
        await loop.run_in_executor(executor, close_all)
        executor.shutdown(wait=True)  # the thread is idle now: joins at once

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
