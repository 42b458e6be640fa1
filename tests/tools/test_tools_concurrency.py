"""Concurrent bookings of one slot: exactly one wins, whether from tasks on one Database or
from threads each with their own Database (own connection, own writer thread) on the same file."""

from __future__ import annotations

import asyncio
import random
import threading
from pathlib import Path

from tests.tools.tools_helpers import MONDAY_10AM, FixedNow
from voiceflow.db import Database, open_seeded
from voiceflow.processors.tools import BusinessConfig, CallCenterTools, ToolContext, ToolOutcome

SLOT = {"date": "2025-12-02", "time": "15:00", "purpose": "a demo"}


async def slot_rows(db: Database) -> list[tuple[str, str]]:
    rows = await db.read(
        lambda c: c.execute(
            "SELECT confirmation_number, name FROM appointments"
            " WHERE date = ? AND time = ? AND status = 'booked'",
            (SLOT["date"], SLOT["time"]),
        ).fetchall()
    )
    return [tuple(r) for r in rows]


async def test_concurrent_tasks_on_one_database_book_a_slot_once(
    tools: CallCenterTools, db: Database
) -> None:
    attempts = [
        tools.registry.call("schedule_appointment", {**SLOT, "name": f"Caller {i}"}) for i in range(25)
    ]
    outcomes = await asyncio.gather(*attempts)
    winners = [o for o in outcomes if o.ok]
    assert len(winners) == 1
    assert {o.code for o in outcomes if not o.ok} == {"slot_taken"}
    rows = await slot_rows(db)
    assert len(rows) == 1 and rows[0][0] == winners[0].result["confirmation_number"]  # type: ignore[index]


def test_concurrent_threads_with_separate_connections_book_a_slot_once(db_path: Path) -> None:
    async def prepare() -> None:
        db = await open_seeded(db_path, today=MONDAY_10AM.date())
        await db.close()

    asyncio.run(prepare())
    workers = 8
    per_worker = 3
    barrier = threading.Barrier(workers)
    outcomes: list[ToolOutcome] = []
    lock = threading.Lock()

    def worker(index: int) -> None:
        async def attempt() -> list[ToolOutcome]:
            db = Database(db_path)  # its own connection and writer thread
            try:
                tools = CallCenterTools(
                    ToolContext(db, BusinessConfig(), FixedNow(MONDAY_10AM), random.Random(index))
                )
                barrier.wait()
                calls = [
                    tools.registry.call("schedule_appointment", {**SLOT, "name": f"Caller {index}.{k}"})
                    for k in range(per_worker)
                ]
                return list(await asyncio.gather(*calls))
            finally:
                await db.close()

        got = asyncio.run(attempt())
        with lock:
            outcomes.extend(got)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(outcomes) == workers * per_worker
    assert sum(o.ok for o in outcomes) == 1
    assert {o.code for o in outcomes if not o.ok} == {"slot_taken"}

    async def check() -> list[tuple[str, str]]:
        db = await Database.open(db_path)
        try:
            integrity = await db.read(lambda c: c.execute("PRAGMA integrity_check").fetchone()[0])
            assert integrity == "ok"
            return await slot_rows(db)
        finally:
            await db.close()

    rows = asyncio.run(check())
    assert len(rows) == 1


async def test_the_unique_index_holds_even_without_the_check(db: Database) -> None:
    """Belt and braces: a writer that skips the conflict check still cannot double-book."""
    insert = (
        "INSERT INTO appointments (confirmation_number, name, purpose, date, time, resource, status,"
        " created_at, updated_at) VALUES (?, 'X', 'y', '2025-12-02', '10:00', 'main', 'booked', 'now', 'now')"
    )
    try:
        await db.write(lambda c: c.execute(insert, ("APT-000001",)))
    except Exception as exc:
        assert "UNIQUE" in str(exc)
    else:
        raise AssertionError("a second booking of a booked slot was accepted")
    # a cancelled row does not hold the slot
    await db.write(
        lambda c: c.execute(
            "UPDATE appointments SET status = 'cancelled' WHERE confirmation_number = 'APT-204817'"
        )
    )
    await db.write(lambda c: c.execute(insert, ("APT-000002",)))
