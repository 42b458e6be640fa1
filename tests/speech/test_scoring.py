"""Recall scoring is fair to both ways of writing numbers (Whisper writes digits, pocketsphinx words)."""

from __future__ import annotations

from voiceflow.sim.speech import keyword_recall


def test_a_written_number_counts_as_each_of_its_readings_and_oh_as_zero() -> None:
    assert keyword_recall([(("ten", "twenty", "two"), "Order 1022, please.")]) == 1.0
    assert keyword_recall([(("one", "zero", "two", "two"), "Order 1022, please.")]) == 1.0
    assert (
        keyword_recall([(("one", "zero", "two", "two"), "order ten twenty two")]) == 0.5
    )  # "one" and "zero" unsaid
    assert keyword_recall([(("zero", "one"), "one oh one")]) == 1.0
    assert keyword_recall([(("oh",), "one zero one")]) == 1.0
    assert keyword_recall([(("six", "two", "eight"), "the code is 628")]) == 1.0
    assert keyword_recall([(("nine",), "the code is 628")]) == 0.0
