"""Emotion labels and intensity from the lexicon."""

from __future__ import annotations

import pytest

from voiceflow.processors.nlu.emotion import EMOTIONS, detect_emotion


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("I'd like to check my order", "neutral"),
        ("what are your hours", "neutral"),
        ("thank you so much, that's wonderful", "happy"),
        ("great, I love it", "happy"),
        ("this is the third time I'm calling and it still hasn't arrived", "frustrated"),
        ("I'm so fed up with waiting", "frustrated"),
        ("that was not helpful at all", "frustrated"),
        ("I'm really upset, my father passed away and I need to cancel", "sad"),
        ("I'm disappointed, unfortunately it broke", "sad"),
        ("this is ridiculous and unacceptable", "angry"),
        ("THIS IS THE WORST SERVICE EVER!!!", "angry"),
        ("I'm confused, what do you mean", "confused"),
        ("I don't understand how this works", "confused"),
        ("I'm not angry, just checking", "neutral"),
    ],
)
def test_labels(text: str, label: str) -> None:
    result = detect_emotion(text)
    assert result.label == label, result
    assert result.label in EMOTIONS


def test_intensity_grows_with_intensifiers_and_shouting() -> None:
    calm = detect_emotion("this is annoying")
    louder = detect_emotion("this is so annoying")
    shouting = detect_emotion("THIS IS SO ANNOYING!!!")
    assert calm.label == louder.label == shouting.label == "frustrated"
    assert 0 < calm.intensity < louder.intensity < shouting.intensity <= 1.0
    assert detect_emotion("hello").intensity == 0.0


def test_deterministic() -> None:
    text = "I'm frustrated and confused, this is ridiculous"
    assert detect_emotion(text) == detect_emotion(text)
    assert detect_emotion(text).label == "angry"  # ties and mixes resolve by score then urgency
