"""The NLU and the dialogue slot readers take what a recognizer writes (Whisper: "order 1002",
"3:30 p.m.", "June 10th", "9-3-16", punctuation, capitals) and what it spells out
(pocketsphinx: "order one zero zero two") to the same values."""

from __future__ import annotations

from datetime import date

import pytest

from voiceflow.processors.dialogue.slots import read_slot
from voiceflow.processors.dialogue.state import DialogueState, Turn
from voiceflow.processors.nlu.entities import extract_entities
from voiceflow.processors.nlu.regex_tier import RegexTier
from voiceflow.processors.nlu.spoken import join_digit_groups, normalise_for_numbers

TODAY = date(2026, 12, 2)  # a Wednesday

#: (as Whisper writes it, as pocketsphinx spells it, the entities both must give)
SAME_ENTITIES = [
    (
        "I want to check the status of order 1002.",
        "i want to check the status of order one zero zero two",
        {"order_id": "1002"},
    ),
    ("The tracking number is 9-3-16.", "the tracking number is nine three one six", {"number": "9316"}),
    (
        "Please call me back at 800-555-1234.",
        "please call me back at eight zero zero five five five one two three four",
        {"phone": "+18005551234"},
    ),
    (
        "Please call me back at 8, 0, 0, 5, 5, 5, 1, 2, 3, 4.",
        "please call me back at eight zero zero five five five one two three four",
        {"phone": "+18005551234"},
    ),
    (
        "Can I move my appointment to Tuesday at 3:30 p.m.?",
        "can i move my appointment to tuesday at three thirty p m",
        {"date": "2026-12-08", "time": "15:30"},
    ),
    (
        "Book it for 10 a.m. tomorrow.",
        "book it for ten a m tomorrow",
        {"date": "2026-12-03", "time": "10:00"},
    ),
    (
        "Reschedule my appointment to December 5th.",
        "reschedule my appointment to december fifth",
        {"date": "2026-12-05"},
    ),
    (
        "Is my appointment still on for June 10?",
        "is my appointment still on for june tenth",
        {"date": "2027-06-10"},
    ),
    ("I'd rate it 4 out of 5.", "i'd rate it four out of five", {"rating": 4}),
    (
        "Cancel appointment APT-1234.",
        "cancel appointment a p t one two three four",
        {"confirmation_number": "APT-1234"},
    ),
]


@pytest.mark.parametrize(("written", "spoken", "expected"), SAME_ENTITIES)
def test_written_and_spoken_numbers_give_the_same_entities(written: str, spoken: str, expected: dict) -> None:
    assert extract_entities(written, today=TODAY) == expected
    assert extract_entities(spoken, today=TODAY) == expected


@pytest.mark.parametrize(
    ("written", "spoken", "intent"),
    [
        (
            "I want to check the status of order 1002.",
            "i want to check the status of order one zero zero two",
            "check_order",
        ),
        (
            "Can I move my appointment to next Tuesday at 3?",
            "can i move my appointment to next tuesday at three",
            "reschedule_appointment",
        ),
        ("Yes, that's correct.", "yes that's correct", "affirm"),
    ],
)
def test_the_regex_tier_reads_both_forms(written: str, spoken: str, intent: str) -> None:
    tier = RegexTier()
    for text in (written, spoken):
        answer = tier.match(normalise_for_numbers(text))
        assert answer is not None and answer.intent == intent, text


def test_digit_groups_join_but_a_phone_number_keeps_its_shape() -> None:
    assert join_digit_groups("number 9-3-16 and 415-220-83") == "number 9316 and 41522083"
    for kept in ("call 800-555-1234", "on 2025-12-24", "3-4 items", "12-24"):
        assert join_digit_groups(kept) == kept
    assert normalise_for_numbers("0, 0, 5, 5, 5") == "00555"


@pytest.mark.parametrize(
    ("slot", "answers", "value"),
    [
        ("order_id", ["It's 1002.", "it's one zero zero two", "1002", "9-3-16"], None),
        (
            "confirmation_number",
            ["It's 482913.", "four eight two nine one three", "APT-482913."],
            "APT-482913",
        ),
        ("rating", ["4.", "four", "I'd give it a 4 out of 5."], 4),
        ("time", ["At 3:30 p.m.", "three thirty p m"], "15:30"),
        ("identifier", ["555-123-4567", "five five five one two three four five six seven"], "+15551234567"),
    ],
)
def test_awaited_slots_read_both_forms(slot: str, answers: list[str], value: object) -> None:
    state = DialogueState()
    got = [
        read_slot(
            slot,
            Turn(intent="inform", entities=extract_entities(a, today=TODAY), text=a),
            state,
            awaited=True,
        )
        for a in answers
    ]
    if slot == "order_id":
        assert got == ["1002", "1002", "1002", "9316"]
    else:
        assert got == [value] * len(answers)


@pytest.mark.parametrize(
    ("said", "order_id"),
    [
        ("Where is order 1002?", "1002"),
        ("where is order ten twenty two", "1022"),  # said in pairs, as a year is
        ("Where is order ten-twenty-two?", "1022"),
        ("Where is order 10-22?", "1022"),  # ... and as Whisper writes that
        ("Where is order 10:22?", "1022"),
        ("Order #10-22, please.", "1022"),
        ("order number is twelve oh five", "1205"),
        ("order one oh oh two", "1002"),
        ("Where is order 1,002?", "1002"),
    ],
)
def test_an_order_number_said_in_pairs_or_written_with_separators_is_one_id(said: str, order_id: str) -> None:
    assert extract_entities(said, today=TODAY).get("order_id") == order_id


def test_pairs_outside_an_order_number_keep_their_meaning() -> None:
    assert extract_entities("book it for ten twenty p m tomorrow", today=TODAY)["time"] == "22:20"
    assert extract_entities("book it for 10:20 tomorrow", today=TODAY)["time"] == "10:20"
    assert "order_id" not in extract_entities("my order ten minutes ago", today=TODAY)
    assert normalise_for_numbers("0, 0, 5, 5, 5") == "00555"
