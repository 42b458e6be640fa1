"""Thanks and closings: a lone "thanks" is welcomed (not a fallback, not a goodbye), and a
caller who goes on with words right after the farewell reopens the dialogue."""

from __future__ import annotations

import pytest

from tests.dialogue.dialogue_helpers import FixedNow, converse, make_policy, said
from voiceflow.db import Database
from voiceflow.processors.dialogue.closings import is_thanks

ANYTHING_ELSE = "You're welcome! Is there anything else I can help you with?"


@pytest.mark.parametrize(
    "text",
    ["thanks", "Thanks,", "thank you", "Okay, thank you so much.", "great, thanks!", "thanks for your help"],
)
def test_thanks_alone_reads_as_thanks(text: str) -> None:
    assert is_thanks(text)


@pytest.mark.parametrize(
    "text", ["Thanks, goodbye.", "no thanks", "thanks that's all", "thanks I want to book", "yes thanks", ""]
)
def test_thanks_with_a_request_a_goodbye_or_an_answer_is_not_only_thanks(text: str) -> None:
    assert not is_thanks(text)


async def test_a_lone_thanks_is_welcomed_even_when_the_nlu_guessed_a_goodbye(
    db: Database, now: FixedNow
) -> None:
    guessed = {**said("goodbye", "thanks"), "confident": False}  # no tier was sure: a guess
    call = await converse(make_policy(db, now), guessed, said("small_talk", "thank you so much"))
    assert call.replies == [ANYTHING_ELSE, ANYTHING_ELSE]
    assert call.calls == []  # not a goodbye: nothing ends the call


async def test_thanks_while_a_question_is_pending_asks_it_again_and_okay_thanks_still_confirms(
    db: Database, now: FixedNow
) -> None:
    book = said(
        "schedule_appointment",
        "book a dental checkup next Tuesday at 3 pm for Jane Doe",
        date="2025-12-02",
        time="15:00",
        name="Jane Doe",
        purpose="a dental checkup",
    )
    call = await converse(
        make_policy(db, now), book, said("small_talk", "great, thanks"), said("affirm", "okay thanks")
    )
    assert call.replies[1].startswith("You're welcome! ") and call.replies[1].endswith("Shall I book it?")
    assert [c[0] for c in call.calls] == ["schedule_appointment"]
    assert call.replies[2].startswith("You're all set")


async def test_words_right_after_the_farewell_reopen_the_dialogue(db: Database, now: FixedNow) -> None:
    call = await converse(
        make_policy(db, now),
        said("goodbye", "so I got a delivery yesterday"),  # a misheard goodbye ...
        said("knowledge_question", "and I want to know the return policy"),  # ... the caller goes on
    )
    assert call.replies[0].endswith("goodbye!")
    assert [(c[0], r.status) for c, r in zip(call.calls, call.results, strict=True)] == [
        ("end_call", "done"),
        ("end_call", "cancelled"),  # the hang-up is called off
    ]
    assert len(call.replies) == 2  # and the request is answered


@pytest.mark.parametrize(
    "closing", [said("goodbye", "bye"), said("small_talk", "thanks"), said("affirm", "okay")]
)
async def test_a_closing_after_the_farewell_does_not_reopen_it(
    db: Database, now: FixedNow, closing: dict[str, object]
) -> None:
    call = await converse(make_policy(db, now), said("goodbye", "that's all, bye"), closing)
    assert len(call.replies) == 1 and [r.status for r in call.results] == ["done"]
