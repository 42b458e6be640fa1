"""Scripted calls: book, cancel and move appointments, including every invalid-argument path.

Each script runs through a real graph (VirtualClock) over a real seeded SQLite file; one
reply per caller turn. Now is Monday 1 December 2025, 10:00 New York.
"""

from __future__ import annotations

import re

from tests.dialogue.dialogue_helpers import FixedNow, converse, keys, make_policy, said
from voiceflow.db import Database


async def bookings(db: Database, day: str) -> dict[str, tuple[str, str]]:
    rows = await db.read(
        lambda c: c.execute(
            "SELECT time, confirmation_number, name FROM appointments WHERE date = ? AND status = 'booked'",
            (day,),
        ).fetchall()
    )
    return {r[0]: (r[1], r[2]) for r in rows}


async def test_booking_multi_turn_date_time_name_purpose_confirm(db: Database, now: FixedNow) -> None:
    call = await converse(
        make_policy(db, now),
        said("schedule_appointment", "I want to book an appointment"),
        said("out_of_scope", "next Tuesday", date="2025-12-02"),
        said("out_of_scope", "3 pm", time="15:00"),
        said("out_of_scope", "It's Jane Doe"),
        said("schedule_appointment", "a dental checkup"),
        said("affirm", "yes please"),
    )
    assert call.replies[:5] == [
        "What day would you like?",
        "What time works for you?",
        "And what name should I put the appointment under?",
        "What is the appointment for?",
        "Tuesday, December 2nd at 3 PM for a dental checkup, under the name Jane Doe. Shall I book it?",
    ]
    assert call.calls == [
        (
            "schedule_appointment",
            {"date": "2025-12-02", "time": "15:00", "name": "Jane Doe", "purpose": "a dental checkup"},
        )
    ]
    number = call.result("schedule_appointment").result["confirmation_number"]
    spoken = " ".join(number.replace("-", ""))
    assert call.replies[5] == (
        "You're all set for a dental checkup, tomorrow, Tuesday, December 2nd at 3 PM. "
        f"Your confirmation number is {spoken}. Is there anything else I can help you with?"
    )
    assert re.fullmatch(r"APT-\d{6}", number)
    assert (await bookings(db, "2025-12-02"))["15:00"] == (number, "Jane Doe")
    assert not call.errors


async def test_known_caller_books_in_one_breath_and_is_not_asked_their_name(
    db: Database, now: FixedNow
) -> None:
    call = await converse(
        make_policy(db, now),
        said("greeting", "hi"),
        said(
            "schedule_appointment",
            "book a product demo tomorrow at 11",
            date="2025-12-02",
            time="11:00",
            purpose="a product demo",
        ),
        keys("1"),  # keypad yes
        metadata={"caller_phone": "+15551230001"},
    )
    assert call.replies[0] == "Hi Maria, welcome back! How can I help you today?"
    assert call.replies[1] == (
        "Tuesday, December 2nd at 11 AM for a product demo, under the name Maria Garcia. Shall I book it?"
    )
    assert call.replies[2].startswith("You're all set for a product demo")
    assert (await bookings(db, "2025-12-02"))["11:00"][1] == "Maria Garcia"


async def test_booking_a_taken_slot_offers_the_nearest_and_takes_one(db: Database, now: FixedNow) -> None:
    call = await converse(
        make_policy(db, now),
        said(
            "schedule_appointment",
            "tomorrow at 10 for a demo, I'm Ann",
            date="2025-12-02",
            time="10:00",
            purpose="a demo",
            name="Ann Lee",
        ),
        said("affirm", "yes"),
        said("out_of_scope", "the second one"),
        said("affirm", "yes"),
    )
    assert call.replies[1] == (
        "Sorry, tomorrow, Tuesday, December 2nd at 10 AM is already taken. "
        "The nearest free times that day are "
        "9 AM, 9:30 AM or 10:30 AM. Which of those works for you?"
    )
    assert (
        call.replies[2]
        == "Tuesday, December 2nd at 9:30 AM for a demo, under the name Ann Lee. Shall I book it?"
    )
    assert call.tools == ["schedule_appointment", "schedule_appointment"]
    assert [r.status for r in call.results] == ["error", "done"]
    slots = await bookings(db, "2025-12-02")
    assert slots["10:00"][1] == "Maria Garcia" and slots["09:30"][1] == "Ann Lee"


async def test_booking_rejects_bad_dates_and_times_then_recovers(db: Database, now: FixedNow) -> None:
    call = await converse(
        make_policy(db, now),
        said("schedule_appointment", "book me in last Friday", date="2025-11-28"),
        said("out_of_scope", "Sunday then", date="2025-12-07"),
        said("out_of_scope", "Wednesday", date="2025-12-03"),
        said("out_of_scope", "at 25 o'clock", time="25:00"),
        said("out_of_scope", "6 in the evening", time="18:00"),
        said("out_of_scope", "half past ten", time="10:30"),
    )
    assert call.replies == [
        "That date has already passed. Which upcoming day would you like?",
        "We don't take appointments on Sundays. What day would you like?",
        "What time works for you?",
        "Sorry, I didn't catch a valid time. What time would you like, for example 2:30 PM?",
        "On Wednesdays we book appointments from 9 AM to 5 PM. What time works for you?",
        "And what name should I put the appointment under?",
    ]
    assert call.calls == []  # nothing reached the database until the slot was valid


async def test_off_grid_time_and_past_time_today(db: Database, now: FixedNow) -> None:
    call = await converse(
        make_policy(db, now),
        said("schedule_appointment", "today at 9:30", date="2025-12-01", time="09:30"),
        said("out_of_scope", "quarter past three", time="15:15"),
        said("out_of_scope", "three", time="15:00"),
    )
    assert call.replies == [
        "That time has already passed today. What later time would work?",
        "Appointments start on the hour or half hour and last 30 minutes. What time works for you?",
        "And what name should I put the appointment under?",
    ]


async def test_three_failed_answers_offer_a_person_and_a_yes_transfers(db: Database, now: FixedNow) -> None:
    call = await converse(
        make_policy(db, now),
        said("schedule_appointment", "book an appointment"),
        said("out_of_scope", "last week", date="2025-11-24"),
        said("out_of_scope", "hmm"),
        said("out_of_scope", "yesterday", date="2025-11-30"),
    )
    # a turn that was not understood never transfers on its own: the agent offers, the caller decides
    assert call.replies[-1] == (
        "I'm having trouble with that. Would you like me to connect you with someone who can help?"
    )
    assert call.tools == []
    call = await converse(
        make_policy(db, now),
        said("schedule_appointment", "book an appointment"),
        said("out_of_scope", "last week", date="2025-11-24"),
        said("out_of_scope", "hmm"),
        said("out_of_scope", "yesterday", date="2025-11-30"),
        said("affirm", "yes please"),
    )
    assert "You're number 1 in line" in call.replies[-1]
    assert call.tools == ["transfer_to_human"]


async def test_a_correction_at_confirmation_reconfirms_and_a_no_books_nothing(
    db: Database, now: FixedNow
) -> None:
    call = await converse(
        make_policy(db, now),
        said(
            "schedule_appointment",
            "book Dec 3rd at 2 for a checkup, name Bo Diaz",
            date="2025-12-03",
            time="14:00",
            purpose="a checkup",
            name="Bo Diaz",
        ),
        said("deny", "no, make it 4 pm", time="16:00"),
        said("deny", "no"),
        said("deny", "no thanks"),
    )
    assert call.replies[0].startswith("Wednesday, December 3rd at 2 PM for a checkup")
    assert call.replies[1].startswith("Wednesday, December 3rd at 4 PM for a checkup")
    assert (
        call.replies[2]
        == "No problem, I haven't booked anything. Is there anything else I can help you with?"
    )
    assert call.replies[3] == "Thanks for calling. Have a great day, goodbye!"
    assert call.tools == ["end_call"]
    assert set(await bookings(db, "2025-12-03")) == {"09:30"}


async def test_cancel_with_confirmation_number_and_keypad_yes(db: Database, now: FixedNow) -> None:
    call = await converse(
        make_policy(db, now),
        said("cancel_appointment", "I need to cancel my appointment"),
        said("out_of_scope", "A P T 9 9 9 9 9 9", confirmation_number="APT-999999"),
        said("out_of_scope", "one two three"),
        said("out_of_scope", "it's APT 204817", confirmation_number="APT-204817"),
        keys("1"),
    )
    assert call.replies == [
        "What's the confirmation number? It starts with A P T, followed by six digits.",
        "Just to confirm: you'd like to cancel appointment A P T 9 9 9 9 9 9?",
        "Sorry, I didn't catch that. Please say yes or no, or press 1 for yes and 2 for no.",
        "Just to confirm: you'd like to cancel appointment A P T 2 0 4 8 1 7?",
        "Done. Your appointment tomorrow, Tuesday, December 2nd at 10 AM is cancelled. "
        "Is there anything else I can help you with?",
    ]
    assert "10:00" not in await bookings(db, "2025-12-02")


async def test_cancel_unknown_and_malformed_numbers_are_asked_again(db: Database, now: FixedNow) -> None:
    call = await converse(
        make_policy(db, now),
        said("cancel_appointment", "cancel APT 999999", confirmation_number="APT-999999"),
        said("affirm", "yes"),
        said("out_of_scope", "APT 12345", confirmation_number="APT-12345"),
        said("affirm", "yes"),
        said("out_of_scope", "318840"),
        said("affirm", "yes"),
    )
    assert call.replies[1] == (
        "I couldn't find an appointment with confirmation number A P T 9 9 9 9 9 9. "
        "Could you check the number?"
    )
    assert call.replies[3] == (
        "Confirmation numbers are A P T followed by six digits. Could you read it to me again?"
    )
    assert call.replies[4] == "Just to confirm: you'd like to cancel appointment A P T 3 1 8 8 4 0?"
    assert call.replies[5].startswith(
        "Done. Your appointment tomorrow, Tuesday, December 2nd at 2:30 PM is cancelled."
    )
    assert [r.result.get("code") if r.status == "error" else "ok" for r in call.results] == [
        "unknown_confirmation_number",
        "invalid_confirmation_number",
        "ok",
    ]


async def test_cancel_right_after_booking_uses_the_new_confirmation_number(
    db: Database, now: FixedNow
) -> None:
    call = await converse(
        make_policy(db, now),
        said(
            "schedule_appointment",
            "Thursday at 3 for a fitting, Al Roe",
            date="2025-12-04",
            time="15:00",
            purpose="a fitting",
            name="Al Roe",
        ),
        said("affirm", "yes"),
        said("cancel_appointment", "actually, cancel it"),
        said("affirm", "yes"),
    )
    number = call.results[0].result["confirmation_number"]
    assert call.calls[1] == ("cancel_appointment", {"confirmation_number": number})
    assert "15:00" not in await bookings(db, "2025-12-04")


async def test_reschedule_multi_turn_and_conflict(db: Database, now: FixedNow) -> None:
    call = await converse(
        make_policy(db, now),
        said("reschedule_appointment", "I want to move APT 452106", confirmation_number="APT-452106"),
        said("out_of_scope", "Tuesday", date="2025-12-02"),
        said("out_of_scope", "2:30", time="14:30"),
        said("affirm", "yes"),
        said("out_of_scope", "4 pm", time="16:00"),
        said("affirm", "yes"),
    )
    assert call.replies[:3] == [
        "What day would you like to move it to?",
        "What time works for you?",
        "So that's moving appointment A P T 4 5 2 1 0 6 to Tuesday, December 2nd at 2:30 PM. "
        "Shall I go ahead?",
    ]
    assert call.replies[3].startswith("Sorry, tomorrow, Tuesday, December 2nd at 2:30 PM is already taken.")
    assert call.replies[4].startswith(
        "So that's moving appointment A P T 4 5 2 1 0 6 to Tuesday, December 2nd at 4 PM"
    )
    assert call.replies[5] == (
        "Done. Your appointment is moved from Wednesday, December 3rd at 9:30 AM to tomorrow, Tuesday, "
        "December 2nd at 4 PM. Your confirmation number stays A P T 4 5 2 1 0 6. "
        "Is there anything else I can help you with?"
    )
    assert (await bookings(db, "2025-12-02"))["16:00"][0] == "APT-452106"
    assert "09:30" not in await bookings(db, "2025-12-03")
