"""The SQLite layer: pragmas, migrations (idempotent, registrable, checksummed), seed, transactions."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from tests.tools.tools_helpers import MONDAY_10AM
from voiceflow.db import (
    Database,
    Migration,
    MigrationError,
    all_migrations,
    connect,
    migrate,
    register_migration,
    schema_version,
    seed_demo_data,
)
from voiceflow.db.migrations import _registered, split_statements


async def test_wal_foreign_keys_and_busy_timeout_are_on(db: Database) -> None:
    mode = await db.read(lambda c: c.execute("PRAGMA journal_mode").fetchone()[0])
    fk = await db.read(lambda c: c.execute("PRAGMA foreign_keys").fetchone()[0])
    busy = await db.read(lambda c: c.execute("PRAGMA busy_timeout").fetchone()[0])
    assert (mode, fk, busy) == ("wal", 1, 5000)
    assert await asyncio.to_thread(Path(str(db.path) + "-wal").exists)


async def test_migrations_are_idempotent_across_opens(db_path: Path) -> None:
    first = await Database.open(db_path)
    assert await first.migrate() == []  # already applied by open
    version = await first.read(schema_version)
    await first.close()
    second = await Database.open(db_path)
    assert await second.migrate() == []
    expected = [m.version for m in all_migrations()]  # built-in + any other package's registered ones
    assert await second.read(schema_version) == version == max(expected)
    rows = await second.read(lambda c: c.execute("SELECT version, name FROM schema_version").fetchall())
    await second.close()
    assert [r[0] for r in rows] == expected and (1, "call_center") in [tuple(r) for r in rows]


def test_migrate_applies_each_version_once_on_a_plain_connection(tmp_path: Path) -> None:
    conn = connect(tmp_path / "plain.db")
    try:
        extra = [Migration(150, "notes", "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);")]
        assert migrate(conn, extra) == [m.version for m in all_migrations(extra)]
        assert migrate(conn, extra) == []
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"customers", "orders", "appointments", "feedback", "transfers", "notes"} <= tables
    finally:
        conn.close()


async def test_registered_migration_is_applied_by_later_opens(db_path: Path) -> None:
    sql = "CREATE TABLE widget_log (id INTEGER PRIMARY KEY, at TEXT NOT NULL);"
    try:
        register_migration(290, "widget_log", sql)
        register_migration(290, "widget_log", sql)  # same again: no-op
        with pytest.raises(MigrationError, match="already"):
            register_migration(290, "other", "CREATE TABLE other (x);")
        db = await Database.open(db_path)
        names = await db.read(
            lambda c: [r[0] for r in c.execute("SELECT name FROM schema_version ORDER BY 1")]
        )
        await db.close()
        assert "widget_log" in names
    finally:
        _registered.pop(290, None)


def test_an_edited_migration_is_refused(tmp_path: Path) -> None:
    conn = connect(tmp_path / "edit.db")
    try:
        migrate(conn, [Migration(151, "t", "CREATE TABLE t (a);")])
        with pytest.raises(MigrationError, match="changed after it was applied"):
            migrate(conn, [Migration(151, "t", "CREATE TABLE t (a, b);")])
    finally:
        conn.close()


def test_a_failing_migration_rolls_back_whole(tmp_path: Path) -> None:
    conn = connect(tmp_path / "fail.db")
    try:
        bad = Migration(152, "half", "CREATE TABLE half_a (x);\nCREATE TABLE half_a (x);")
        with pytest.raises(MigrationError, match="152"):
            migrate(conn, [bad])
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert "half_a" not in tables
        assert 152 not in {r[0] for r in conn.execute("SELECT version FROM schema_version")}
    finally:
        conn.close()


def test_split_statements_keeps_triggers_whole() -> None:
    sql = """
    -- a comment
    CREATE TABLE a (x);
    CREATE TRIGGER a_t AFTER INSERT ON a BEGIN
        UPDATE a SET x = x + 1;
    END;
    """
    parts = split_statements(sql)
    assert len(parts) == 2 and parts[1].startswith("CREATE TRIGGER") and parts[1].endswith("END;")
    with pytest.raises(MigrationError, match="incomplete"):
        split_statements("CREATE TABLE b (x)")


async def test_seed_is_realistic_and_happens_once(db: Database) -> None:
    counts = await db.read(
        lambda c: {
            t: c.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
            for t in ("customers", "orders", "appointments")
        }
    )
    assert counts == {"customers": 12, "orders": 30, "appointments": 4}
    statuses = await db.read(lambda c: {r[0] for r in c.execute("SELECT status FROM orders")})
    assert statuses == {"processing", "shipped", "in transit", "delivered", "cancelled"}
    shipped = await db.read(
        lambda c: c.execute(
            "SELECT COUNT(*) FROM orders WHERE status IN ('shipped', 'in transit')"
            " AND (carrier IS NULL OR tracking_number IS NULL OR eta IS NULL)"
        ).fetchone()[0]
    )
    assert shipped == 0
    again = await db.run(lambda c: seed_demo_data(c, today=MONDAY_10AM.date()))
    assert again is False
    assert await db.read(lambda c: c.execute("SELECT COUNT(*) FROM orders").fetchone()[0]) == 30


async def test_a_failing_write_rolls_back(db: Database) -> None:
    def half_then_fail(c: sqlite3.Connection) -> None:
        c.execute("UPDATE orders SET status = 'cancelled' WHERE id = 1002")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await db.write(half_then_fail)
    status = await db.read(lambda c: c.execute("SELECT status FROM orders WHERE id = 1002").fetchone()[0])
    assert status == "in transit"


async def test_foreign_keys_are_enforced(db: Database) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        await db.write(
            lambda c: c.execute(
                "INSERT INTO orders (id, customer_id, status, items, total_cents, placed_on)"
                " VALUES (9999, 'C-0000', 'processing', 'x', 1, '2025-12-01')"
            )
        )


async def test_closed_database_refuses_work(db_path: Path) -> None:
    db = await Database.open(db_path)
    await db.close()
    await db.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        await db.read(lambda c: 1)
