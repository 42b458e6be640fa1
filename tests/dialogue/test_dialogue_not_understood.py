"""A turn the NLU only guessed at never ends the call, transfers it or writes: the agent asks again.

Slot answers are still read from the words whatever intent was guessed ("next Tuesday" is
often classified unconfidently); only the acting intents need a confident reading.
"""

from __future__ import annotations

from typing import Any

from tests.dialogue.dialogue_helpers import FixedNow, converse, make_policy, said
from voiceflow.db import Database


def guessed(intent: str, text: str = "", **entities: Any) -> dict[str, Any]:
    return {**said(intent, text, **entities), "confident": False}


async def test_a_guessed_goodbye_or_transfer_asks_again(db: Database, now: FixedNow) -> None:
    call = await converse(
        make_policy(db, now),
        guessed("goodbye", "hang on a second"),
        guessed("transfer_to_human", "transfer the uh"),
    )
    assert call.tools == []
    assert call.replies == ["Sorry, I didn't catch that. Could you say that again?"] * 2


async def test_a_guessed_yes_does_not_book_and_a_clear_one_does(db: Database, now: FixedNow) -> None:
    call = await converse(
        make_policy(db, now),
        said("schedule_appointment", "I want to book an appointment"),
        guessed("out_of_scope", "next Tuesday", date="2025-12-02"),  # a slot answer: still read
        said("out_of_scope", "3 pm", time="15:00"),
        said("out_of_scope", "It's Jane Doe"),
        said("schedule_appointment", "a dental checkup"),
        guessed("affirm", "hmm let me think"),
        said("affirm", "yes please"),
    )
    assert call.replies[1] == "What time works for you?"
    assert call.replies[5].startswith("Sorry, I didn't catch that. Tuesday, December 2nd at 3 PM")
    assert call.tools == ["schedule_appointment"]  # booked once, on the clear yes only
