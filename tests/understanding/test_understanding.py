"""The understanding evaluation set (tests/understanding/understanding_eval.json) through the real
NLU and dialogue: questions about a day or a department are answered for it, policy questions
are knowledge questions, moving or changing an appointment is a reschedule, and nothing acts on
a turn that was not understood."""

from __future__ import annotations

import pytest

from tests.understanding.evaluate import Outcome, evaluate, scores


@pytest.fixture(scope="module")
def outcomes() -> list[Outcome]:
    import asyncio

    return asyncio.run(evaluate())


def test_every_kind_of_case_is_handled(outcomes: list[Outcome]) -> None:
    failures = [f"{o.case['text']!r}: {'; '.join(o.problems)}" for o in outcomes if not o.ok]
    figures = scores(outcomes)
    # a few misses are allowed for the recognizer-free NLU, none where the agent would act
    assert figures["understanding_no_action_accuracy"] == 1.0, failures
    assert all(v >= 0.9 for k, v in figures.items() if k.endswith("_accuracy")), failures


def test_nothing_ends_transfers_or_writes_on_a_turn_not_understood(outcomes: list[Outcome]) -> None:
    guesses = [o for o in outcomes if not o.confident]
    assert guesses, "the set has turns the NLU is not sure of"
    assert not [o for o in guesses if any(t in {"end_call", "transfer_to_human"} for t, _ in o.tools)]
