"""Emotion → prosody mapping and clause cutting of streamed replies."""

from __future__ import annotations

import pytest

from voiceflow.services.tts import EMOTION_PROSODY, EMOTIONS, NEUTRAL, ClauseSplitter, Prosody, prosody_for
from voiceflow.services.tts.clauses import split_clauses


def test_every_emotion_has_a_prosody_and_upset_callers_get_calm_speech() -> None:
    assert set(EMOTIONS) == set(EMOTION_PROSODY)
    for upset in ("angry", "frustrated"):
        p = prosody_for(upset)
        assert p.rate < 1.0 and p.volume < 1.0 and p.pitch < 0.0
    assert prosody_for("angry").rate < prosody_for("frustrated").rate  # the angrier, the calmer
    confused = prosody_for("confused")
    assert confused.rate < prosody_for("sad").rate and confused.volume >= 1.0  # slower and clearer
    assert prosody_for("happy").rate > 1.0
    assert prosody_for("neutral") == NEUTRAL
    assert prosody_for("  ANGRY ") == prosody_for("angry")
    assert prosody_for("bored") == NEUTRAL and prosody_for(None) == NEUTRAL


def test_prosody_combines_and_validates() -> None:
    combined = Prosody(rate=0.8, pitch=-1, volume=0.5).then(Prosody(rate=0.5, pitch=2, volume=0.5))
    assert combined == Prosody(rate=0.4, pitch=1.0, volume=0.25)
    assert Prosody(rate=0.3).then(Prosody(rate=0.3)).rate == 0.25  # clamped
    with pytest.raises(ValueError, match="rate"):
        Prosody(rate=0.0)


def test_clauses_flush_at_sentence_ends_and_long_soft_breaks() -> None:
    splitter = ClauseSplitter(soft_min_chars=30)
    out: list[str] = []
    reply = (
        "Sure! Dr. Smith sees you at 3.5 p.m. on Friday, okay? I checked order 1002, which shipped "
        "on Monday from the main warehouse, and it should arrive soon"
    )
    for token in reply.split(" "):
        out += splitter.add(token + " ")
    assert out == [
        "Sure!",
        "Dr. Smith sees you at 3.5 p.m. on Friday,",  # long enough to stand alone
        "okay?",
        "I checked order 1002, which shipped on Monday from the main warehouse,",  # 1st comma: too short
    ]
    assert splitter.flush() == "and it should arrive soon"
    assert splitter.flush() is None


def test_clause_needs_the_following_space_and_long_runs_are_cut() -> None:
    splitter = ClauseSplitter()
    assert splitter.add("Hello.") == []  # could still be "Hello.com"
    assert splitter.add(" Next") == ["Hello."]
    long = "word " * 80
    clauses = split_clauses(long)
    assert len(clauses) >= 2 and all(len(c) <= 220 for c in clauses)
    assert " ".join(clauses).split() == long.split()


def test_the_first_clause_is_said_in_two_goes_at_a_phrase_break() -> None:
    from voiceflow.services.tts.clauses import head_phrase

    assert head_phrase("Your order 1002 shipped on December 1st with UPS.") == (
        "Your order 1002",
        "shipped on December 1st with UPS.",
    )
    # never after a word that leans on the next one
    assert head_phrase("On Saturday we're open from 10 AM to 4 PM.") == (
        "On Saturday we're open",
        "from 10 AM to 4 PM.",
    )
    assert head_phrase("What day would you like?") is None  # short: one go
    assert head_phrase("Your order 1002 shipped on December 1st.", words=0) is None
