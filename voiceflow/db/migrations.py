"""Numbered schema migrations recorded in a ``schema_version`` table.

Each migration runs in its own ``BEGIN IMMEDIATE`` transaction that first re-reads
``schema_version``, so running ``migrate`` twice, or from two processes at once,
applies every migration exactly once. The SQL's checksum is stored; a migration
edited after it was applied is refused instead of silently diverging.

Version ranges (so packages never collide):
  1-99     voiceflow.db (this package: ``sql/NNNN_name.sql``)
  100-199  memory (user_memory, conversation_turns)
  200-299  further packages

Another package adds its tables with::

    from voiceflow.db import register_migration
    register_migration(100, "user_memory", "CREATE TABLE user_memory (...);")

at import time (before the database is opened), or passes ``extra=[Migration(...)]``
to ``migrate`` / ``Database.open``, or calls ``await db.migrate()`` later: it is idempotent.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources

_SCHEMA_TABLE = """
CREATE TABLE IF NOT EXISTS schema_version (
    version     INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    checksum    TEXT NOT NULL,
    applied_at  TEXT NOT NULL
)
"""


class MigrationError(RuntimeError):
    """A migration failed, collides with another, or changed after it was applied."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()[:16]


_registered: dict[int, Migration] = {}


def register_migration(version: int, name: str, sql: str) -> Migration:
    """Add a migration applied by every later ``migrate`` (same version + same SQL is a no-op)."""
    if version < 1:
        raise MigrationError(f"migration versions start at 1, got {version}")
    migration = Migration(version, name, sql)
    existing = _registered.get(version) or _builtin().get(version)
    if existing is not None and existing != migration:
        raise MigrationError(f"migration {version} is already {existing.name!r}; pick another version")
    _registered[version] = migration
    return migration


def _builtin() -> dict[int, Migration]:
    found: dict[int, Migration] = {}
    folder = resources.files("voiceflow.db") / "sql"
    for entry in folder.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        number, _, rest = entry.name.partition("_")
        version = int(number)
        found[version] = Migration(version, rest.removesuffix(".sql"), entry.read_text(encoding="utf-8"))
    return found


def all_migrations(extra: Iterable[Migration] = ()) -> list[Migration]:
    """The built-in, registered and ``extra`` migrations in version order."""
    merged = _builtin()
    for m in [*_registered.values(), *extra]:
        if m.version in merged and merged[m.version] != m:
            raise MigrationError(f"two different migrations claim version {m.version}")
        merged[m.version] = m
    return [merged[v] for v in sorted(merged)]


def split_statements(sql: str) -> list[str]:
    """Split a script into complete statements (triggers with BEGIN..END stay whole)."""
    statements: list[str] = []
    buf = ""
    for line in sql.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip().strip(";").strip():
                statements.append(buf.strip())
            buf = ""
    tail = "\n".join(ln for ln in buf.splitlines() if not ln.strip().startswith("--")).strip()
    if tail:
        raise MigrationError(f"incomplete SQL statement at the end of the script: {tail[:80]!r}")
    return statements


def applied_versions(conn: sqlite3.Connection) -> dict[int, str]:
    conn.execute(_SCHEMA_TABLE)
    return {v: c for v, c in conn.execute("SELECT version, checksum FROM schema_version")}


def migrate(conn: sqlite3.Connection, extra: Iterable[Migration] = ()) -> list[int]:
    """Apply pending migrations; returns the versions applied by this call (empty when up to date).

    ``conn`` must be in autocommit mode (``isolation_level=None``), as ``connect`` makes it.
    """
    applied: list[int] = []
    for m in all_migrations(extra):
        conn.execute("BEGIN IMMEDIATE")
        try:
            done = applied_versions(conn)
            if m.version in done:
                if done[m.version] != m.checksum:
                    raise MigrationError(
                        f"migration {m.version} ({m.name}) changed after it was applied;"
                        " add a new migration instead"
                    )
                conn.execute("COMMIT")
                continue
            for statement in split_statements(m.sql):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_version (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)",
                (m.version, m.name, m.checksum, datetime.now(UTC).isoformat(timespec="seconds")),
            )
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            conn.execute("ROLLBACK")
            raise MigrationError(f"migration {m.version} ({m.name}) failed: {exc}") from exc
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        applied.append(m.version)
    return applied


def schema_version(conn: sqlite3.Connection) -> int:
    """The highest applied version (0 for a fresh file)."""
    row = (
        conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()
        if _has_table(conn)
        else (0,)
    )
    return int(row[0])


def _has_table(conn: sqlite3.Connection) -> bool:
    row = conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='schema_version'").fetchone()
    return row is not None
