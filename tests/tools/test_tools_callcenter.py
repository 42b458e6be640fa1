"""The nine tools on a real seeded SQLite file: happy paths and every invalid-argument path.

Fixed moment: Monday 1 December 2025, 10:00 America/New_York. Seeded bookings: Dec 2 10:00
(APT-204817), Dec 2 14:30 (APT-318840), Dec 3 09:30 (APT-452106), Dec 4 11:00 (APT-573391).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.tools.tools_helpers import TZ, FixedNow
from voiceflow.db import Database
from voiceflow.processors.tools import CallCenterTools, ToolOutcome


async def call(tools: CallCenterTools, tool_name: str, /, **arguments: Any) -> ToolOutcome:
    return await tools.registry.call(tool_name, arguments)


async def booked_at(db: Database, day: str, at: str) -> list[str]:
    rows = await db.read(
        lambda c: c.execute(
            "SELECT confirmation_number FROM appointments WHERE date = ? AND time = ? AND status = 'booked'",
            (day, at),
        ).fetchall()
    )
    return [r[0] for r in rows]


def assert_error(outcome: ToolOutcome, code: str) -> dict[str, Any]:
    assert not outcome.ok, outcome
    assert outcome.error is not None and outcome.code == code, outcome.error
    assert outcome.result is None
    assert outcome.message and outcome.message[-1] in ".?"
    return outcome.error


# -- check_order_status ----------------------------------------------------------------------------
async def test_check_order_status(tools: CallCenterTools) -> None:
    out = await call(tools, "check_order_status", order_id="1002")
    assert out.ok and out.result is not None
    r = out.result
    assert (r["status"], r["carrier"], r["spoken_order_id"]) == ("in transit", "FedEx", "1 0 0 2")
    assert r["tracking_number"] and r["eta"] > "2025-12-01"
    assert r["spoken_eta"].startswith(("Tuesday", "Wednesday", "Thursday", "Friday", "tomorrow"))
    loose = await call(tools, "check_order_status", order_id="order #1004")
    assert loose.ok and loose.result is not None and loose.result["status"] == "shipped"
    as_int = await tools.registry.call("check_order_status", '{"order_id": 1005}')
    assert as_int.ok and as_int.result is not None and as_int.result["status"] == "delivered"


async def test_check_order_status_errors(tools: CallCenterTools) -> None:
    err = assert_error(await call(tools, "check_order_status", order_id="9999"), "order_not_found")
    assert "9 9 9 9" in err["message"]
    assert_error(await call(tools, "check_order_status", order_id="my order"), "invalid_order_id")
    assert_error(await call(tools, "check_order_status"), "missing_argument")
    assert_error(await call(tools, "check_order_status", order_id={"id": 1}), "invalid_argument")


# -- schedule_appointment --------------------------------------------------------------------------
async def test_schedule_appointment_books_with_a_confirmation_number(
    tools: CallCenterTools, db: Database
) -> None:
    out = await call(
        tools, "schedule_appointment", date="2025-12-02", time="15:00", name="Ann Lee", purpose="a demo"
    )
    assert out.ok and out.result is not None
    number = out.result["confirmation_number"]
    assert re.fullmatch(r"APT-\d{6}", number)
    assert out.result["spoken_date"] == "tomorrow, Tuesday, December 2nd"
    assert out.result["spoken_time"] == "3 PM"
    assert await booked_at(db, "2025-12-02", "15:00") == [number]
    pm = await call(tools, "schedule_appointment", date="2025-12-02", time="4:30 pm", name="Bo", purpose="x")
    assert pm.ok and pm.result is not None and pm.result["time"] == "16:30"


async def test_schedule_appointment_conflict_suggests_nearest_free_slots(
    tools: CallCenterTools, db: Database
) -> None:
    err = assert_error(
        await call(tools, "schedule_appointment", date="2025-12-02", time="10:00", name="Ann", purpose="x"),
        "slot_taken",
    )
    assert [(s["date"], s["time"]) for s in err["suggestions"]] == [
        ("2025-12-02", "09:00"),
        ("2025-12-02", "09:30"),
        ("2025-12-02", "10:30"),
    ]
    assert "9 AM, 9:30 AM or 10:30 AM" in err["message"]
    assert await booked_at(db, "2025-12-02", "10:00") == ["APT-204817"]


@pytest.mark.parametrize(
    ("day", "at", "code"),
    [
        ("2025-11-28", "10:00", "past_date"),
        ("2025-12-01", "09:00", "past_time"),
        ("12/02/2025", "10:00", "invalid_date"),
        ("2025-02-30", "10:00", "invalid_date"),
        ("2025-12-02", "25:00", "invalid_time"),
        ("2025-12-02", "3", "invalid_time"),
        ("2025-12-02", "half past", "invalid_time"),
        ("2025-12-07", "10:00", "closed_day"),
        ("2025-12-02", "18:00", "outside_hours"),
        ("2025-12-06", "15:00", "outside_hours"),
        ("2025-12-02", "16:45", "invalid_slot"),
        ("2025-12-02", "10:15", "invalid_slot"),
        ("2026-06-01", "10:00", "too_far_ahead"),
    ],
)
async def test_schedule_appointment_rejects_bad_slots(
    tools: CallCenterTools, db: Database, day: str, at: str, code: str
) -> None:
    out = await call(tools, "schedule_appointment", date=day, time=at, name="Ann", purpose="x")
    err = assert_error(out, code)
    if code in ("closed_day", "outside_hours", "invalid_slot"):
        assert err["suggestions"], "a refused slot comes with alternatives"
        for s in err["suggestions"]:
            assert (
                await call(
                    tools, "schedule_appointment", date=s["date"], time=s["time"], name="Ann", purpose="x"
                )
            ).ok
    count = await db.read(lambda c: c.execute("SELECT COUNT(*) FROM appointments").fetchone()[0])
    assert count == 4 + (3 if code in ("closed_day", "outside_hours", "invalid_slot") else 0)


async def test_schedule_appointment_missing_name_or_purpose(tools: CallCenterTools) -> None:
    assert_error(
        await call(tools, "schedule_appointment", date="2025-12-02", time="15:00", purpose="x"),
        "missing_argument",
    )
    err = assert_error(
        await call(tools, "schedule_appointment", date="2025-12-02", time="15:00", name="", purpose="x"),
        "missing_argument",
    )
    assert err["argument"] == "name"
    assert_error(
        await call(
            tools, "schedule_appointment", date="2025-12-02", time="15:00", name="A", purpose="x", room="2"
        ),
        "unexpected_argument",
    )


# -- cancel / reschedule ---------------------------------------------------------------------------
async def test_cancel_appointment_frees_the_slot(tools: CallCenterTools, db: Database) -> None:
    out = await call(tools, "cancel_appointment", confirmation_number="apt 204817")
    assert out.ok and out.result is not None
    assert (out.result["status"], out.result["date"], out.result["time"]) == (
        "cancelled",
        "2025-12-02",
        "10:00",
    )
    again = await call(
        tools, "schedule_appointment", date="2025-12-02", time="10:00", name="New", purpose="x"
    )
    assert again.ok
    assert_error(
        await call(tools, "cancel_appointment", confirmation_number="APT-204817"), "already_cancelled"
    )


async def test_cancel_appointment_errors(tools: CallCenterTools) -> None:
    err = assert_error(
        await call(tools, "cancel_appointment", confirmation_number="APT-999999"),
        "unknown_confirmation_number",
    )
    assert "A P T 9 9 9 9 9 9" in err["message"]
    assert_error(
        await call(tools, "cancel_appointment", confirmation_number="12345"), "invalid_confirmation_number"
    )
    assert_error(await call(tools, "cancel_appointment"), "missing_argument")


async def test_reschedule_appointment_moves_and_keeps_the_number(
    tools: CallCenterTools, db: Database
) -> None:
    out = await call(
        tools,
        "reschedule_appointment",
        confirmation_number="APT-452106",
        new_date="2025-12-03",
        new_time="11:00",
    )
    assert out.ok and out.result is not None
    assert out.result["confirmation_number"] == "APT-452106"
    assert (out.result["old_date"], out.result["old_time"]) == ("2025-12-03", "09:30")
    assert await booked_at(db, "2025-12-03", "11:00") == ["APT-452106"]
    assert await booked_at(db, "2025-12-03", "09:30") == []


async def test_reschedule_appointment_errors(tools: CallCenterTools, db: Database) -> None:
    def move(number: str, day: str, at: str) -> Any:
        return call(tools, "reschedule_appointment", confirmation_number=number, new_date=day, new_time=at)

    err = assert_error(await move("APT-452106", "2025-12-02", "14:30"), "slot_taken")
    assert err["suggestions"]
    assert_error(await move("APT-452106", "2025-12-03", "09:30"), "same_slot")
    assert_error(await move("APT-111111", "2025-12-03", "11:00"), "unknown_confirmation_number")
    assert_error(await move("APT-452106", "2025-11-20", "11:00"), "past_date")
    assert_error(await move("APT-452106", "tomorrow", "11:00"), "invalid_date")
    assert_error(await move("APT-452106", "2025-12-03", "noonish"), "invalid_time")
    assert await booked_at(db, "2025-12-03", "09:30") == ["APT-452106"]  # untouched by every failure


# -- transfer_to_human -----------------------------------------------------------------------------
async def test_transfer_to_human_queues_and_records(
    tools: CallCenterTools, db: Database, now: FixedNow
) -> None:
    positions = []
    for _ in range(3):
        out = await call(tools, "transfer_to_human", department="billing", reason="double charge")
        assert out.ok and out.result is not None
        positions.append((out.result["queue_position"], out.result["estimated_wait_seconds"]))
    assert positions == [(1, 360), (2, 360), (3, 720)]  # 2 billing agents, 6 minutes per caller
    assert (await call(tools, "transfer_to_human", department="sales")).result["queue_position"] == 1  # type: ignore[index]
    now.moment += timedelta(minutes=45)  # earlier callers have left the queue window
    later = await call(tools, "transfer_to_human", department="billing")
    assert later.result is not None and later.result["queue_position"] == 1
    rows = await db.read(
        lambda c: c.execute("SELECT department, reason FROM transfers ORDER BY id").fetchall()
    )
    assert tuple(rows[0]) == ("billing", "double charge") and len(rows) == 5


async def test_transfer_to_human_errors(tools: CallCenterTools, now: FixedNow) -> None:
    assert_error(await call(tools, "transfer_to_human", department="legal"), "invalid_argument")
    assert_error(await call(tools, "transfer_to_human"), "missing_argument")
    now.moment = datetime(2025, 12, 6, 12, 0, tzinfo=TZ)  # Saturday: billing is closed
    err = assert_error(await call(tools, "transfer_to_human", department="billing"), "department_closed")
    assert (
        err["message"] == "Our billing team is closed right now. We're back on Monday, December 8th at 9 AM."
    )


# -- get_business_hours ----------------------------------------------------------------------------
async def test_business_hours_open_now(tools: CallCenterTools) -> None:
    out = await call(tools, "get_business_hours")
    assert out.result is not None
    r = out.result
    assert (r["department"], r["open_now"], r["closes_at"], r["spoken_closes_at"]) == (
        "customer_service",
        True,
        "20:00",
        "8 PM",
    )
    assert r["spoken_hours"] == "Monday to Friday 8 AM to 8 PM and Saturday 9 AM to 5 PM"
    assert r["timezone"] == "America/New_York"


@pytest.mark.parametrize(
    ("moment", "department", "is_open", "opens"),
    [
        (datetime(2025, 12, 6, 18, 0, tzinfo=TZ), None, False, "on Monday, December 8th at 8 AM"),
        (datetime(2025, 12, 6, 12, 0, tzinfo=TZ), "technical_support", True, None),
        (datetime(2025, 12, 7, 12, 0, tzinfo=TZ), "technical_support", False, "tomorrow at 8 AM"),
        (datetime(2025, 12, 1, 7, 30, tzinfo=TZ), None, False, "today at 8 AM"),
        (datetime(2025, 12, 1, 12, 30, tzinfo=UTC), None, False, "today at 8 AM"),  # 7:30 in New York
        (datetime(2025, 12, 5, 17, 0), "billing", False, "on Monday, December 8th at 9 AM"),  # naive = local
        (datetime(2025, 12, 5, 20, 0, tzinfo=TZ), "sales", False, "tomorrow at 10 AM"),
        (datetime(2025, 7, 4, 19, 59, tzinfo=TZ), None, True, None),  # summer time (EDT)
    ],
)
async def test_business_hours_open_or_closed_in_the_business_timezone(
    tools: CallCenterTools,
    now: FixedNow,
    moment: datetime,
    department: str | None,
    is_open: bool,
    opens: str | None,
) -> None:
    now.moment = moment
    args = {"department": department} if department else {}
    out = await tools.registry.call("get_business_hours", args)
    assert out.result is not None
    assert out.result["open_now"] is is_open
    assert out.result["spoken_opens_at"] == opens


async def test_business_hours_errors(tools: CallCenterTools) -> None:
    assert_error(await call(tools, "get_business_hours", department="cafeteria"), "invalid_argument")
    assert_error(await tools.registry.call("get_business_hours", "not json"), "invalid_json")


# -- look_up_account -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("identifier", "name"),
    [
        ("(555) 123-0001", "Maria Garcia"),
        ("+1 555 123 0001", "Maria Garcia"),
        ("AISHA.KHAN@example.com", "Aisha Khan"),
        ("C-1003", "Aisha Khan"),
        ("c 1006", "Diego Martinez"),
    ],
)
async def test_look_up_account(tools: CallCenterTools, identifier: str, name: str) -> None:
    out = await call(tools, "look_up_account", identifier=identifier)
    assert out.ok and out.result is not None and out.result["name"] == name
    assert out.result["order_count"] >= 2 and out.result["recent_orders"]


async def test_look_up_account_lists_upcoming_appointments(tools: CallCenterTools) -> None:
    out = await call(tools, "look_up_account", identifier="maria.garcia@example.com")
    assert out.result is not None
    assert [a["confirmation_number"] for a in out.result["upcoming_appointments"]] == ["APT-204817"]


async def test_look_up_account_errors(tools: CallCenterTools) -> None:
    assert_error(await call(tools, "look_up_account", identifier="+1 555 000 0000"), "account_not_found")
    assert_error(await call(tools, "look_up_account", identifier="nobody@example.com"), "account_not_found")
    assert_error(await call(tools, "look_up_account", identifier="hello there"), "invalid_identifier")
    assert_error(await call(tools, "look_up_account", identifier=" "), "missing_argument")


# -- collect_feedback ------------------------------------------------------------------------------
async def test_collect_feedback(tools: CallCenterTools, db: Database) -> None:
    out = await call(tools, "collect_feedback", rating=5, comment="Quick and friendly")
    assert out.ok and out.result == {"feedback_id": 1, "rating": 5, "comment": "Quick and friendly"}
    bare = await call(tools, "collect_feedback", rating="3")
    assert bare.ok
    rows = await db.read(lambda c: c.execute("SELECT rating, comment FROM feedback ORDER BY id").fetchall())
    assert [tuple(r) for r in rows] == [(5, "Quick and friendly"), (3, "")]


@pytest.mark.parametrize(
    ("rating", "code"),
    [(0, "out_of_range"), (6, "out_of_range"), ("five", "invalid_argument"), (4.5, "invalid_argument")],
)
async def test_collect_feedback_errors(tools: CallCenterTools, db: Database, rating: Any, code: str) -> None:
    err = assert_error(await call(tools, "collect_feedback", rating=rating), code)
    assert err["argument"] == "rating"
    assert await db.read(lambda c: c.execute("SELECT COUNT(*) FROM feedback").fetchone()[0]) == 0


# -- end_call --------------------------------------------------------------------------------------
async def test_end_call(tools: CallCenterTools) -> None:
    assert (await call(tools, "end_call")).result == {"action": "hangup", "reason": "conversation finished"}
    out = await call(tools, "end_call", reason="caller said goodbye")
    assert out.result == {"action": "hangup", "reason": "caller said goodbye"}
    assert_error(await call(tools, "end_call", reason=["x"]), "invalid_argument")
