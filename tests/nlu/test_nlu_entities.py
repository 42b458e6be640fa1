"""Entity extraction: spoken forms, relative dates against a fixed today, malformed values."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.nlu.nlu_helpers import TODAY
from voiceflow.processors.nlu.datetimes import resolve_date, resolve_time
from voiceflow.processors.nlu.entities import extract_entities
from voiceflow.processors.nlu.spoken import fold_spoken_digits, number_value


def ents(text: str, today: date = TODAY) -> dict[str, Any]:
    return extract_entities(text, today=today)


@pytest.mark.parametrize(
    ("text", "order_id"),
    [
        ("check order 1002", "1002"),
        ("what's the status of order number 1005", "1005"),
        ("order number one zero zero two please", "1002"),
        ("it's order one oh oh four", "1004"),
        # as Whisper writes digits spelled out: sentence punctuation on the last digit word
        ("Hi, where's my order one zero zero two?", "1002"),
        ("Is it order three, zero, four, one!", "3041"),
        ("where is order #1001", "1001"),
        ("where is #A-1234", "A-1234"),
        ("order a1234 hasn't arrived", "A-1234"),
    ],
)
def test_order_id(text: str, order_id: str) -> None:
    assert ents(text)["order_id"] == order_id


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tomorrow", "2025-12-04"),
        ("today please", "2025-12-03"),
        ("the day after tomorrow", "2025-12-05"),
        ("next Tuesday", "2025-12-09"),
        ("on Friday", "2025-12-05"),
        ("this wednesday", "2025-12-03"),
        ("wednesday", "2025-12-10"),
        ("the 5th", "2025-12-05"),
        ("the 2nd", "2026-01-02"),
        ("the twenty first", "2025-12-21"),
        ("December 5th", "2025-12-05"),
        ("december the fifth", "2025-12-05"),
        ("the 4th of july", "2026-07-04"),
        ("jan 3 2026", "2026-01-03"),
        ("12/05", "2025-12-05"),
        ("11/30", "2026-11-30"),
        ("12/24/2025", "2025-12-24"),
        ("2025-12-24", "2025-12-24"),
        ("in two weeks", "2025-12-17"),
        ("in 3 days", "2025-12-06"),
    ],
)
def test_dates_resolve_against_today(text: str, expected: str) -> None:
    assert ents(text)["date"] == expected


def test_february_29_goes_to_the_next_leap_year() -> None:
    assert resolve_date("february 29th", date(2025, 3, 1)).value == "2028-02-29"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3 pm", "15:00"),
        ("at 3pm", "15:00"),
        ("3:30", "15:30"),
        ("at 10:15 am", "10:15"),
        ("15:45", "15:45"),
        ("half past two", "14:30"),
        ("quarter to five", "16:45"),
        ("quarter past nine in the morning", "09:15"),
        ("twenty past 3", "15:20"),
        ("noon", "12:00"),
        ("midnight", "00:00"),
        ("three o'clock", "15:00"),
        ("three thirty pm", "15:30"),
        ("at 10 30", "10:30"),
        ("at nine", "09:00"),
        ("at 2 in the afternoon", "14:00"),
        ("seven thirty a.m.", "07:30"),
        ("12 pm", "12:00"),
        ("12 am", "00:00"),
    ],
)
def test_times(text: str, expected: str) -> None:
    assert ents(text)["time"] == expected


def test_booking_sentence_has_date_time_and_purpose() -> None:
    got = ents("Can I book an appointment for a consultation on Friday at 3 pm?")
    assert got == {"date": "2025-12-05", "time": "15:00", "purpose": "consultation"}
    assert ents("I need to see someone about a warranty repair tomorrow")["purpose"] == "warranty repair"
    # "for next Tuesday" is a date, not a purpose
    assert "purpose" not in ents("book me in for next Tuesday")


@pytest.mark.parametrize(
    ("text", "email"),
    [
        ("my email is john@example.com", "john@example.com"),
        ("it's john at example dot com", "john@example.com"),
        ("jane dot doe at mail dot example dot org", "jane.doe@mail.example.org"),
        ("bob underscore smith at gmail dot com", "bob_smith@gmail.com"),
    ],
)
def test_email(text: str, email: str) -> None:
    assert ents(text)["email"] == email


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        ("my number is 555-123-4567", "+15551234567"),
        ("call me at (555) 987 6543", "+15559876543"),
        ("+1 555 123 4567", "+15551234567"),
        ("five five five one two three four five six seven", "+15551234567"),
        ("my phone is +44 20 7946 0958", "+442079460958"),
    ],
)
def test_phone(text: str, phone: str) -> None:
    got = ents(text)
    assert got["phone"] == phone
    assert "time" not in got  # spoken digits are not "at five five"


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("cancel APT-123456", "APT-123456"),
        ("please cancel my appointment apt 482913", "APT-482913"),
        ("my confirmation is a p t four eight two nine one three", "APT-482913"),
        ("the confirmation number is BKG-20931", "BKG-20931"),
    ],
)
def test_confirmation_number(text: str, number: str) -> None:
    got = ents(text)
    assert got["confirmation_number"] == number
    assert "order_id" not in got


@pytest.mark.parametrize(
    ("text", "rating"),
    [
        ("five stars", 5),
        ("I'd rate it a four", 4),
        ("3 out of 5", 3),
        ("give you guys a 5", 5),
        ("one star", 1),
    ],
)
def test_rating(text: str, rating: int) -> None:
    assert ents(text)["rating"] == rating


def test_name_and_bare_number() -> None:
    assert ents("my name is john smith")["name"] == "John Smith"
    assert ents("hi this is sarah calling")["name"] == "Sarah"
    assert "name" not in ents("this is ridiculous")
    assert ents("it's one zero zero two")["number"] == "1002"
    assert ents("4821")["number"] == "4821"


@pytest.mark.parametrize(
    ("text", "field", "raw"),
    [
        ("on the 45th", "date", "the 45th"),
        ("2025-02-30", "date", "2025-02-30"),
        ("13/45", "date", "13/45"),
        ("at 25:00", "time", "25:00"),
        ("at 3:75", "time", "3:75"),
        ("13 pm", "time", "13 pm"),
        ("10 out of 10", "rating", "10 out of 10"),
        ("rate it a zero", "rating", "rate it a zero"),
        ("my number is 555 12", "phone", "555 12"),
        ("mail me at john@@example", "email", "john@@example"),
        ("order number 12", "order_id", "12"),
    ],
)
def test_malformed_values_are_reported_not_guessed(text: str, field: str, raw: str) -> None:
    got = ents(text)
    assert field not in got
    assert got["invalid"][field] == raw


def test_nothing_found_in_plain_text() -> None:
    assert ents("how are you") == {}
    assert ents("we are open 24/7") == {}
    assert ents("") == {}


def test_spoken_number_helpers() -> None:
    assert fold_spoken_digits("oh I see one appointment") == "oh I see one appointment"
    assert fold_spoken_digits("double five one two") == "5512"
    assert number_value("twenty first") == 21
    assert number_value("thirty") == 30
    assert number_value("one twenty") is None
    assert resolve_time("nothing here").value is None


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_arbitrary_text_never_raises(text: str) -> None:
    result = ents(text)
    assert isinstance(result, dict)
