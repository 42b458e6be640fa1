"""PersistentUserMemory on a real SQLite file, and phone normalisation."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from voiceflow.db import open_seeded
from voiceflow.processors.memory import InvalidPhoneError, PersistentUserMemory, normalize_phone


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("(555) 123-4567", "+15551234567"),
        ("555.123.4567", "+15551234567"),
        ("1-555-123-4567", "+15551234567"),
        ("+1 555 123 4567", "+15551234567"),
        ("+44 20 7946 0958", "+442079460958"),
        ("0044 20 7946 0958", "+442079460958"),
        ("tel:+1-555-123-4567", "+15551234567"),
        ("sip:+15551234567@pbx.example.com;user=phone", "+15551234567"),
    ],
)
def test_normalize_phone(raw: str, expected: str) -> None:
    assert normalize_phone(raw) == expected


def test_normalize_national_number_of_another_country() -> None:
    assert normalize_phone("020 7946 0958", default_country_code="44") == "+442079460958"


@pytest.mark.parametrize("raw", ["", "anonymous", "12345", "+1234567890123456", "555-1234", "+0123456789"])
def test_invalid_phones_are_refused(raw: str) -> None:
    with pytest.raises(InvalidPhoneError):
        normalize_phone(raw)


class Ticker:
    """A deterministic wall clock for the stored timestamps."""

    def __init__(self) -> None:
        self.at = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.at += timedelta(minutes=1)
        return self.at


async def test_two_calls_persist_and_the_caller_is_greeted_by_name(tmp_path: Path) -> None:
    path = tmp_path / "memory.db"
    ticker = Ticker()

    memory = await PersistentUserMemory.open(path, business="Acme", now=ticker)
    try:
        first = await memory.start_call("(555) 010-2030", "call-1")
        assert not first.returning and first.name is None and first.last_topic is None
        assert first.greeting == "Thanks for calling Acme. How can I help you today?"
        await memory.remember("555-010-2030", name="Alice Martin", tier="gold", preferences={"lang": "en"})
        assert (
            await memory.record_turn("5550102030", "call-1", "user", "Where is order 1001?", "check_order")
            == 0
        )
        assert await memory.record_turn("5550102030", "call-1", "assistant", "It shipped.") == 1
        await memory.end_call("+15550102030", "call-1", topic="check_order")
    finally:
        await memory.close()

    memory = await PersistentUserMemory.open(path, business="Acme", now=ticker)  # a new process, same file
    try:
        second = await memory.start_call("+1 555 010 2030", "call-2")
        assert second.returning and second.phone == "+15550102030"
        assert second.name == "Alice Martin" and second.first_name == "Alice" and second.tier == "gold"
        assert second.last_topic == "check_order" and second.preferences == {"lang": "en"}
        assert second.greeting == (
            "Welcome back, Alice! Last time we talked about your order. How can I help you today?"
        )
        await memory.remember("+15550102030", preferences={"contact": "sms"})
        profile = await memory.load_caller("555 010 2030")
        assert profile is not None and profile.call_count == 2
        assert profile.preferences == {"lang": "en", "contact": "sms"}
        history = await memory.call_history("+15550102030")
        assert [(c.call_id, c.topic, c.turn_count) for c in history] == [
            ("call-2", None, 0),
            ("call-1", "check_order", 2),
        ]
        assert history[1].ended_at is not None and history[0].ended_at is None
        turns = await memory.turns("+15550102030", call_id="call-1")
        assert [(t.role, t.text, t.intent) for t in turns] == [
            ("user", "Where is order 1001?", "check_order"),
            ("assistant", "It shipped.", None),
        ]
    finally:
        await memory.close()

    with sqlite3.connect(path) as conn:  # the tables exist as the issue names them, via migration 100
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        versions = {r[0] for r in conn.execute("SELECT version FROM schema_version")}
    assert {"user_memory", "conversation_turns", "call_history"} <= tables
    assert 100 in versions


async def test_start_call_is_idempotent_per_call_id(tmp_path: Path) -> None:
    memory = await PersistentUserMemory.open(tmp_path / "m.db")
    try:
        await memory.start_call("+15550001111", "c1")
        await memory.end_call("+15550001111", "c1", topic="business_hours")
        again = await memory.start_call("+15550001111", "c2")
        repeat = await memory.start_call("+15550001111", "c2")  # a retried webhook
        assert again.returning and repeat.returning
        profile = await memory.load_caller("+15550001111")
        assert profile is not None and profile.call_count == 2
    finally:
        await memory.close()


async def test_known_customer_is_greeted_by_name_on_first_call(tmp_path: Path) -> None:
    path = tmp_path / "callcenter.db"
    db = await open_seeded(path)  # the tools' schema and demo customers, same file
    try:
        row = await db.read(lambda c: c.execute("SELECT name, phone, tier FROM customers LIMIT 1").fetchone())
        memory = PersistentUserMemory(db, business="Acme")
        greeting = await memory.start_call(row["phone"], "c1")
        assert not greeting.returning
        assert greeting.name == row["name"] and greeting.tier == row["tier"]
        assert greeting.greeting.startswith(f"Hi {row['name'].split()[0]}, thanks for calling Acme.")
        stored = await memory.load_caller(row["phone"])
        assert stored is not None and stored.source == "memory" and stored.name == row["name"]
    finally:
        await db.close()


async def test_bad_input_is_refused_clearly(tmp_path: Path) -> None:
    memory = await PersistentUserMemory.open(tmp_path / "m.db")
    try:
        with pytest.raises(InvalidPhoneError):
            await memory.start_call("not a number", "c1")
        with pytest.raises(ValueError, match="role"):
            await memory.record_turn("+15550001111", "c1", "robot", "beep")
        assert await memory.load_caller("+15550009999") is None
    finally:
        await memory.close()
