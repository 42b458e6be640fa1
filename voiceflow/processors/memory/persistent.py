"""What the agent remembers about a caller between calls, in SQLite.

Keyed by the caller's phone number in E.164. A call starts with
``start_call`` (loads the profile, counts the call, returns a
``GreetingContext`` the dialogue policy can speak from), records turns as they
happen, and ends with ``end_call`` (stores the topic). All I/O runs on the
database's own thread (``voiceflow.db.Database``), never on the event loop.

Tables (migration 100, registered with ``voiceflow.db``): ``user_memory`` (one
row per caller), ``conversation_turns`` (what was said), ``call_history`` (one
row per call with its topic).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from voiceflow.db import Database, Migration, register_migration
from voiceflow.processors.memory.phone import normalize_phone

MEMORY_SQL = """
CREATE TABLE IF NOT EXISTS user_memory (
    phone        TEXT PRIMARY KEY,                -- E.164
    name         TEXT,
    tier         TEXT NOT NULL DEFAULT 'standard',
    preferences  TEXT NOT NULL DEFAULT '{}',      -- JSON object
    last_topic   TEXT,
    call_count   INTEGER NOT NULL DEFAULT 0,
    first_seen   TEXT NOT NULL,
    last_seen    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS call_history (
    call_id      TEXT PRIMARY KEY,
    phone        TEXT NOT NULL REFERENCES user_memory(phone) ON DELETE CASCADE,
    started_at   TEXT NOT NULL,
    ended_at     TEXT,
    topic        TEXT,
    turn_count   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS call_history_by_phone ON call_history (phone, started_at);
CREATE TABLE IF NOT EXISTS conversation_turns (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    phone        TEXT NOT NULL REFERENCES user_memory(phone) ON DELETE CASCADE,
    call_id      TEXT NOT NULL,
    turn_index   INTEGER NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
    text         TEXT NOT NULL,
    intent       TEXT,
    created_at   TEXT NOT NULL,
    UNIQUE (call_id, turn_index)
);
CREATE INDEX IF NOT EXISTS conversation_turns_by_phone ON conversation_turns (phone, id);
"""

MEMORY_MIGRATION: Migration = register_migration(100, "user_memory", MEMORY_SQL)

#: how a stored topic (an intent name) is said back to a returning caller
TOPIC_PHRASES = {
    "check_order": "your order",
    "track_delivery": "your delivery",
    "schedule_appointment": "booking an appointment",
    "cancel_appointment": "cancelling an appointment",
    "reschedule_appointment": "rescheduling an appointment",
    "transfer_to_human": "speaking with an agent",
    "account_lookup": "your account",
    "business_hours": "our opening hours",
    "feedback": "your feedback",
    "knowledge_question": "a question about our policies",
}


def topic_phrase(topic: str) -> str:
    return TOPIC_PHRASES.get(topic, topic.replace("_", " "))


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class CallerProfile:
    phone: str
    name: str | None = None
    tier: str = "standard"
    preferences: dict[str, Any] = field(default_factory=dict)
    last_topic: str | None = None
    call_count: int = 0
    first_seen: str | None = None
    last_seen: str | None = None
    #: "memory" (called before), "customers" (known customer, first call), or "new"
    source: str = "new"


@dataclass(frozen=True, slots=True)
class GreetingContext:
    """What the dialogue needs to open a call: who is calling and what they wanted last time."""

    phone: str | None
    returning: bool
    name: str | None
    tier: str
    last_topic: str | None
    preferences: dict[str, Any]
    profile: CallerProfile | None
    greeting: str

    @property
    def first_name(self) -> str | None:
        return self.name.split()[0] if self.name else None


def build_greeting(profile: CallerProfile | None, returning: bool, business: str) -> str:
    first = profile.name.split()[0] if profile and profile.name else None
    if returning and first:
        text = f"Welcome back, {first}!"
        if profile and profile.last_topic:
            text += f" Last time we talked about {topic_phrase(profile.last_topic)}."
        return text + " How can I help you today?"
    if first:
        return f"Hi {first}, thanks for calling {business}. How can I help you today?"
    if returning:
        return f"Welcome back to {business}. How can I help you today?"
    return f"Thanks for calling {business}. How can I help you today?"


@dataclass(frozen=True, slots=True)
class CallRecord:
    call_id: str
    started_at: str
    ended_at: str | None
    topic: str | None
    turn_count: int


@dataclass(frozen=True, slots=True)
class StoredTurn:
    call_id: str
    turn_index: int
    role: str
    text: str
    intent: str | None
    created_at: str


def _profile(row: sqlite3.Row, source: str) -> CallerProfile:
    return CallerProfile(
        phone=row["phone"],
        name=row["name"],
        tier=row["tier"],
        preferences=json.loads(row["preferences"] or "{}"),
        last_topic=row["last_topic"],
        call_count=row["call_count"],
        first_seen=row["first_seen"],
        last_seen=row["last_seen"],
        source=source,
    )


def _customer(conn: sqlite3.Connection, phone: str) -> CallerProfile | None:
    """A first-time caller who is already a customer (tools' ``customers`` table, if in this file)."""
    has = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'customers'").fetchone()
    if not has:
        return None
    row = conn.execute("SELECT name, tier FROM customers WHERE phone = ?", (phone,)).fetchone()
    if row is None:
        return None
    return CallerProfile(phone=phone, name=row["name"], tier=row["tier"], source="customers")


class PersistentUserMemory:
    """Caller profiles, call history and turns in one SQLite file."""

    def __init__(
        self,
        db: Database,
        *,
        business: str = "us",
        default_country_code: str = "1",
        now: Callable[[], datetime] = utc_now,
        owns_db: bool = False,
        redact: Callable[[str], str] | None = None,
    ) -> None:
        self.db = db
        #: applied to every stored utterance (PII redaction: ``voiceflow.security.redaction``)
        self.redact = redact
        self.business = business
        self.default_country_code = default_country_code
        self.now = now
        self._owns_db = owns_db

    @classmethod
    async def open(cls, path: str | Path, **kwargs: Any) -> PersistentUserMemory:
        """Open (and migrate) ``path``; ``close`` closes it."""
        db = await Database.open(path, extra=[MEMORY_MIGRATION])
        return cls(db, owns_db=True, **kwargs)

    async def close(self) -> None:
        if self._owns_db:
            await self.db.close()

    def normalize(self, phone: str) -> str:
        """E.164 (raises ``InvalidPhoneError``)."""
        return normalize_phone(phone, default_country_code=self.default_country_code)

    def _stamp(self) -> str:
        return self.now().astimezone(UTC).isoformat(timespec="seconds")

    # -- profiles --------------------------------------------------------------------------------
    async def load_caller(self, phone: str) -> CallerProfile | None:
        """The stored profile, else the customer record, else None."""
        key = self.normalize(phone)

        def read(conn: sqlite3.Connection) -> CallerProfile | None:
            row = conn.execute("SELECT * FROM user_memory WHERE phone = ?", (key,)).fetchone()
            return _profile(row, "memory") if row is not None else _customer(conn, key)

        return await self.db.read(read)

    async def remember(
        self,
        phone: str,
        *,
        name: str | None = None,
        tier: str | None = None,
        preferences: dict[str, Any] | None = None,
    ) -> CallerProfile:
        """Store what was learned about the caller; ``preferences`` are merged into the stored ones."""
        key = self.normalize(phone)
        stamp = self._stamp()

        def write(conn: sqlite3.Connection) -> CallerProfile:
            self._ensure_row(conn, key, stamp)
            row = conn.execute("SELECT preferences FROM user_memory WHERE phone = ?", (key,)).fetchone()
            merged = {**json.loads(row["preferences"] or "{}"), **(preferences or {})}
            conn.execute(
                "UPDATE user_memory SET name = COALESCE(?, name), tier = COALESCE(?, tier),"
                " preferences = ? WHERE phone = ?",
                (name, tier, json.dumps(merged, sort_keys=True), key),
            )
            return _profile(
                conn.execute("SELECT * FROM user_memory WHERE phone = ?", (key,)).fetchone(), "memory"
            )

        return await self.db.write(write)

    def _ensure_row(self, conn: sqlite3.Connection, key: str, stamp: str) -> None:
        known = _customer(conn, key)
        conn.execute(
            "INSERT INTO user_memory (phone, name, tier, first_seen, last_seen) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (phone) DO NOTHING",
            (key, known.name if known else None, known.tier if known else "standard", stamp, stamp),
        )

    # -- calls -------------------------------------------------------------------------------------
    def anonymous_greeting(self) -> GreetingContext:
        return GreetingContext(
            phone=None,
            returning=False,
            name=None,
            tier="standard",
            last_topic=None,
            preferences={},
            profile=None,
            greeting=build_greeting(None, False, self.business),
        )

    async def start_call(self, phone: str, call_id: str) -> GreetingContext:
        """Load the caller as they were before this call, then count this call (idempotent per id)."""
        key = self.normalize(phone)
        stamp = self._stamp()

        def write(conn: sqlite3.Connection) -> tuple[CallerProfile | None, bool]:
            row = conn.execute("SELECT * FROM user_memory WHERE phone = ?", (key,)).fetchone()
            before = _profile(row, "memory") if row is not None else _customer(conn, key)
            seen = conn.execute("SELECT 1 FROM call_history WHERE call_id = ?", (call_id,)).fetchone()
            if seen is None:
                self._ensure_row(conn, key, stamp)
                conn.execute(
                    "UPDATE user_memory SET call_count = call_count + 1, last_seen = ? WHERE phone = ?",
                    (stamp, key),
                )
                conn.execute(
                    "INSERT INTO call_history (call_id, phone, started_at) VALUES (?, ?, ?)",
                    (call_id, key, stamp),
                )
            stored = before is not None and before.source == "memory"
            prior_calls = before.call_count - (1 if seen else 0) if before is not None and stored else 0
            return before, prior_calls > 0

        profile, returning = await self.db.write(write)
        return GreetingContext(
            phone=key,
            returning=returning,
            name=profile.name if profile else None,
            tier=profile.tier if profile else "standard",
            last_topic=profile.last_topic if profile else None,
            preferences=dict(profile.preferences) if profile else {},
            profile=profile,
            greeting=build_greeting(profile, returning, self.business),
        )

    async def record_turn(
        self, phone: str, call_id: str, role: str, text: str, intent: str | None = None
    ) -> int:
        """Append one utterance of the call; returns its index within the call."""
        if role not in ("user", "assistant"):
            raise ValueError(f"role must be 'user' or 'assistant', got {role!r}")
        key = self.normalize(phone)
        stamp = self._stamp()
        if self.redact is not None:
            text = self.redact(text)

        def write(conn: sqlite3.Connection) -> int:
            self._ensure_row(conn, key, stamp)
            conn.execute(
                "INSERT INTO call_history (call_id, phone, started_at) VALUES (?, ?, ?)"
                " ON CONFLICT (call_id) DO NOTHING",
                (call_id, key, stamp),
            )
            (index,) = conn.execute(
                "SELECT COALESCE(MAX(turn_index) + 1, 0) FROM conversation_turns WHERE call_id = ?",
                (call_id,),
            ).fetchone()
            conn.execute(
                "INSERT INTO conversation_turns (phone, call_id, turn_index, role, text, intent, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (key, call_id, index, role, text, intent, stamp),
            )
            conn.execute("UPDATE call_history SET turn_count = turn_count + 1 WHERE call_id = ?", (call_id,))
            return int(index)

        return await self.db.write(write)

    async def end_call(self, phone: str, call_id: str, topic: str | None = None) -> None:
        """Close the call; ``topic`` (when given) becomes the caller's last topic."""
        key = self.normalize(phone)
        stamp = self._stamp()

        def write(conn: sqlite3.Connection) -> None:
            self._ensure_row(conn, key, stamp)
            conn.execute(
                "INSERT INTO call_history (call_id, phone, started_at) VALUES (?, ?, ?)"
                " ON CONFLICT (call_id) DO NOTHING",
                (call_id, key, stamp),
            )
            conn.execute(
                "UPDATE call_history SET ended_at = ?, topic = COALESCE(?, topic) WHERE call_id = ?",
                (stamp, topic, call_id),
            )
            conn.execute(
                "UPDATE user_memory SET last_seen = ?, last_topic = COALESCE(?, last_topic) WHERE phone = ?",
                (stamp, topic, key),
            )

        await self.db.write(write)

    async def call_history(self, phone: str, limit: int = 10) -> list[CallRecord]:
        """The caller's calls, most recent first."""
        key = self.normalize(phone)

        def read(conn: sqlite3.Connection) -> list[CallRecord]:
            rows = conn.execute(
                "SELECT call_id, started_at, ended_at, topic, turn_count FROM call_history"
                " WHERE phone = ? ORDER BY started_at DESC, rowid DESC LIMIT ?",
                (key, limit),
            ).fetchall()
            return [CallRecord(**dict(r)) for r in rows]

        return await self.db.read(read)

    async def turns(self, phone: str, call_id: str | None = None, limit: int = 100) -> list[StoredTurn]:
        """Stored utterances of the caller (of one call when ``call_id``), oldest first."""
        key = self.normalize(phone)

        def read(conn: sqlite3.Connection) -> list[StoredTurn]:
            sql = (
                "SELECT call_id, turn_index, role, text, intent, created_at"
                " FROM conversation_turns WHERE phone = ?"
            )
            args: tuple[Any, ...] = (key,)
            if call_id is not None:
                sql += " AND call_id = ?"
                args += (call_id,)
            rows = conn.execute(sql + " ORDER BY id DESC LIMIT ?", (*args, limit)).fetchall()
            return [StoredTurn(**dict(r)) for r in reversed(rows)]

        return await self.db.read(read)
