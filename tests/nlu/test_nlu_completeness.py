"""Intent-aware endpointing: completeness from meaning, and the windows it gives the Endpointer."""

from __future__ import annotations

import pytest

from voiceflow.frames import Transcript, UserStoppedSpeaking, VoiceStarted, VoiceStopped
from voiceflow.graphs import Collector, Graph, GraphRun, VirtualClock
from voiceflow.processors.audio import Endpointer
from voiceflow.processors.nlu import RegexTier, intent_completeness

complete = intent_completeness()


@pytest.mark.parametrize(
    "text",
    [
        "where is my order one zero zero two",  # spoken digits are folded before matching
        "where is my order 1002",
        "has my package for order number 1002 shipped yet",
        "what are your hours on saturday please",
        "i'd like to talk to a real person",
    ],
)
def test_a_confident_self_contained_request_is_complete(text: str) -> None:
    assert complete(text) == 1.0


def test_an_order_question_waits_for_its_number() -> None:
    assert complete("where is my order") == 0.6
    assert complete("where is my order number twelve") == 0.6  # two digits are no order id


def test_a_request_that_takes_details_leans_complete_but_not_surely() -> None:
    # "book an appointment" is often followed by the day: at least 0.8, not 1
    assert complete("i want to book an appointment") == 0.8
    assert complete("i want to book an appointment.") == 1.0  # the recognizer's full stop wins


def test_an_unfinished_sentence_is_not_complete_whatever_it_means() -> None:
    assert complete("i want to book an appointment for") == 0.0  # dangling word
    assert complete("where is my order one zero zero two and") == 0.0  # trailing conjunction
    assert complete("where is my order um") == 0.0  # filler


def test_short_answers_wait_a_little_for_a_second_breath() -> None:
    assert complete("thanks") <= 0.6  # "thanks, goodbye"
    assert complete("no") <= 0.6  # "no, that's all"
    assert complete("bye bye now") <= 0.6


def test_words_without_a_confident_intent_stay_in_between() -> None:
    assert complete("the weather has been lovely this week") == 0.6
    assert complete("the weather has been lovely this week.") == 0.7


def test_the_regex_tier_threshold_decides_what_counts_as_confident() -> None:
    strict = intent_completeness(RegexTier(threshold=0.99))
    assert strict("what are your hours on saturday please") == 0.6


async def test_the_endpointer_ends_a_complete_order_question_sooner() -> None:
    """0.8 s base window, 0.3 s complete window: completeness 1 → 0.3 s, 0.6 → 0.5 s."""
    waits = {}
    for text in ("where is my order one zero zero two", "where is my order"):
        clock = VirtualClock(10.0)
        sink = Collector(name="sink")
        graph = Graph("t", inputs=[VoiceStarted, VoiceStopped, Transcript]).chain(
            Endpointer(name="ep", silence_secs=0.8, completeness=complete), sink
        )
        async with GraphRun(graph, clock=clock) as run:
            await run.push(run.make(VoiceStarted))
            await clock.advance(1.0)
            voiced = clock.now()
            await run.push(run.make(Transcript, text=text, final=True))
            await clock.advance(0.1)
            await run.push(run.make(VoiceStopped, last_voiced_at=voiced))
            await clock.advance(2.0)
            (end,) = sink.of(UserStoppedSpeaking)
            waits[text] = round(end.ts - voiced, 6)
    assert waits == {"where is my order one zero zero two": 0.3, "where is my order": 0.5}


@pytest.mark.parametrize(
    ("text", "held"),
    [
        ("I have a question about my order.", True),  # the number usually follows
        ("I'd like to book an appointment.", True),  # so does the day
        ("i need to cancel my appointment", True),
        ("I need some help with my account.", True),
        ("So I got a delivery yesterday.", True),  # a statement, no request yet
        ("and then um", True),  # a trailing filler, as before
        ("Where is my order one zero zero two?", False),  # complete: answer fast
        ("I'd like to book an appointment for next Tuesday at three pm.", False),
        ("What time do you close on Saturday?", False),
        ("What is your return policy?", False),
        ("next Tuesday", False),  # a short answer is the whole turn
    ],
)
def test_a_request_missing_its_detail_holds_the_turn_open(text: str, held: bool) -> None:
    from voiceflow.processors.nlu import intent_hold

    assert intent_hold()(text) is held


@pytest.mark.parametrize(
    ("text", "backchannel"),
    [
        ("mm-hmm", True),
        ("", True),
        ("okay right", True),
        ("minimum", True),  # how pocketsphinx wrote a murmured "mm-hmm" over the agent
        ("uh hum", True),
        ("wait", False),  # a stop word: the caller wants the agent to stop
        ("no no", False),
        ("sorry what", False),
        ("goodbye", False),  # a request
        ("can I talk to a person", False),
    ],
)
def test_what_over_the_agent_is_only_a_backchannel(text: str, backchannel: bool) -> None:
    from voiceflow.processors.nlu import intent_backchannel

    assert intent_backchannel()(text) is backchannel
