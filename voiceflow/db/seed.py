"""Realistic demo data: customers, orders 1001-1030, a few booked appointments.

Dates are relative to ``today`` so the demo stays alive (orders placed last week are
in transit, ETAs are in the coming days, booked appointments are upcoming). Seeding
is deterministic and happens once per file: it is skipped when customers exist.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from voiceflow.db.connection import Database, transaction
from voiceflow.db.migrations import Migration

DEMO_TIMEZONE = "America/New_York"

#: id, name, phone, email, tier
CUSTOMERS: list[tuple[str, str, str, str, str]] = [
    ("C-1001", "Maria Garcia", "+15551230001", "maria.garcia@example.com", "gold"),
    ("C-1002", "James Smith", "+15551230002", "james.smith@example.com", "standard"),
    ("C-1003", "Aisha Khan", "+15551230003", "aisha.khan@example.com", "platinum"),
    ("C-1004", "Wei Chen", "+15551230004", "wei.chen@example.com", "silver"),
    ("C-1005", "Olivia Johnson", "+15551230005", "olivia.j@example.com", "standard"),
    ("C-1006", "Diego Martinez", "+15551230006", "diego.martinez@example.com", "gold"),
    ("C-1007", "Fatima Okafor", "+15551230007", "fatima.okafor@example.com", "silver"),
    ("C-1008", "Liam O'Brien", "+15551230008", "liam.obrien@example.com", "standard"),
    ("C-1009", "Sofia Rossi", "+15551230009", "sofia.rossi@example.com", "platinum"),
    ("C-1010", "Noah Williams", "+15551230010", "noah.w@example.com", "standard"),
    ("C-1011", "Priya Patel", "+15551230011", "priya.patel@example.com", "gold"),
    ("C-1012", "Ethan Brown", "+15551230012", "ethan.brown@example.com", "silver"),
]

_ITEMS = [
    "wireless headphones",
    "a standing desk",
    "two cotton t-shirts",
    "a coffee grinder",
    "running shoes",
    "a 27-inch monitor",
    "a cast iron skillet",
    "a yoga mat and blocks",
    "a mechanical keyboard",
    "a winter jacket",
]
_CARRIERS = [("UPS", "1Z999AA1{:010d}"), ("FedEx", "7{:011d}"), ("USPS", "9400{:018d}")]
_STATUSES = ["processing", "shipped", "in transit", "delivered", "cancelled"]


def _orders(today: date) -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = []
    for n in range(30):
        order_id = 1001 + n
        customer = CUSTOMERS[n % len(CUSTOMERS)][0]
        status = _STATUSES[(n * 7 + n // 5) % len(_STATUSES)]
        items = _ITEMS[(n * 3) % len(_ITEMS)]
        total_cents = 1999 + (n * 4373) % 38000
        placed = today - timedelta(days=2 + (n * 5) % 20)
        carrier: str | None = None
        tracking: str | None = None
        eta: str | None = None
        delivered: str | None = None
        if status in ("shipped", "in transit", "delivered"):
            carrier, pattern = _CARRIERS[n % len(_CARRIERS)]
            tracking = pattern.format(order_id * 7919)
        if status == "processing":
            eta = (today + timedelta(days=5 + n % 3)).isoformat()
        elif status in ("shipped", "in transit"):
            eta = (today + timedelta(days=1 + n % 4)).isoformat()
        elif status == "delivered":
            delivered = min(today - timedelta(days=1), placed + timedelta(days=4)).isoformat()
        rows.append(
            (
                order_id,
                customer,
                status,
                items,
                total_cents,
                carrier,
                tracking,
                placed.isoformat(),
                eta,
                delivered,
            )
        )
    return rows


def _next_weekday(day: date, offset_days: int) -> date:
    d = day + timedelta(days=offset_days)
    while d.weekday() >= 5:
        d += timedelta(days=1)
    return d


def _appointments(today: date, stamp: str) -> list[tuple[object, ...]]:
    plan = [
        ("APT-204817", "C-1001", "Maria Garcia", "a product demo", 1, "10:00"),
        ("APT-318840", "C-1003", "Aisha Khan", "a warranty repair drop-off", 1, "14:30"),
        ("APT-452106", "C-1006", "Diego Martinez", "a billing consultation", 2, "09:30"),
        ("APT-573391", "C-1009", "Sofia Rossi", "a setup appointment", 3, "11:00"),
    ]
    return [
        (
            conf,
            cust,
            name,
            purpose,
            _next_weekday(today, days).isoformat(),
            time,
            "main",
            "booked",
            stamp,
            stamp,
        )
        for conf, cust, name, purpose, days, time in plan
    ]


def seed_demo_data(conn: sqlite3.Connection, *, today: date | None = None) -> bool:
    """Insert the demo rows in one transaction unless customers exist; True when it seeded."""
    tz = ZoneInfo(DEMO_TIMEZONE)
    today = today or datetime.now(tz).date()
    stamp = datetime.combine(today, datetime.min.time(), tz).isoformat(timespec="seconds")

    def insert(c: sqlite3.Connection) -> bool:
        if c.execute("SELECT COUNT(*) FROM customers").fetchone()[0]:
            return False
        c.executemany(
            "INSERT INTO customers (id, name, phone, email, tier, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            [(*row, stamp) for row in CUSTOMERS],
        )
        c.executemany(
            "INSERT INTO orders (id, customer_id, status, items, total_cents, carrier, tracking_number,"
            " placed_on, eta, delivered_on) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            _orders(today),
        )
        c.executemany(
            "INSERT INTO appointments (confirmation_number, customer_id, name, purpose, date, time, resource,"
            " status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            _appointments(today, stamp),
        )
        return True

    return transaction(conn, insert)


async def open_seeded(
    path: str | Path,
    *,
    today: date | None = None,
    extra: Iterable[Migration] = (),
    busy_timeout_ms: int = 5000,
) -> Database:
    """Open ``path`` (migrations applied) and load the demo data once."""
    db = await Database.open(path, extra=extra, busy_timeout_ms=busy_timeout_ms)
    try:
        await db.run(lambda conn: seed_demo_data(conn, today=today))
    except BaseException:
        await db.close()
        raise
    return db
