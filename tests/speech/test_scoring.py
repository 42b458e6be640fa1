"""Recall scoring is fair to both ways of writing numbers (Whisper writes digits, pocketsphinx words)."""

from __future__ import annotations

from voiceflow.sim.speech import digit_strings_exact, keyword_recall, word_errors


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


def test_word_errors_read_a_written_number_as_it_was_said() -> None:
    assert word_errors("it is about order ten twenty two", "It's about order 1022.") == (0, 7)
    assert word_errors("order twelve oh five never showed up", "Order 1205 never showed up.") == (0, 7)
    assert word_errors("my order number is one oh oh seven", "My order number is 1007.") == (0, 8)
    assert word_errors("my order number is one oh oh seven", "My order number is 107.") == (1, 8)


def test_digit_strings_count_only_when_whole_and_in_order() -> None:
    said = "i want to check order one zero zero two"
    assert digit_strings_exact([(said, "I want to check order 1002.")]) == 1.0
    assert digit_strings_exact([(said, "I want to check order one, zero, zero, two.")]) == 1.0
    assert digit_strings_exact([(said, "I want to check order 10002.")]) == 0.0  # recall counts it whole
    assert keyword_recall([(("one", "zero", "two"), "I want to check order 10002.")]) == 1.0
