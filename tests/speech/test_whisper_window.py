"""Whisper's short-window decode: the encoder sees the utterance and a little padding, not 30 s.

Fixed clips (Piper's voice over the μ-law phone line, the real model): the short window hears
the same words as the 30 s window it replaced; the window's size follows the audio; a short
answer the short window makes Whisper repeat ("yes, yes, yes"), or a transcript it ends too
soon, is decoded again over a longer window; a phrase said twice at the end is cut back to
once, while a number said twice stays."""

from __future__ import annotations

import numpy as np
import pytest

from voiceflow.core.clock import MonotonicClock
from voiceflow.services.stt import whisper
from voiceflow.services.stt.whisper import (
    DOMAIN_PROMPT,
    WhisperEngine,
    drop_repeated_tail,
    max_tokens,
    repeats_itself,
    stopped_early,
)
from voiceflow.services.stt.whisper_decode import MAX_FRAMES, ShortWindowDecoder, Window
from voiceflow.sim.speech import from_phone_line, normalize_words, synthesize, to_phone_line

RATE = 16000
#: (what the caller says, the words the decode must contain)
CLIPS = [
    ("i want to check the status of order one zero zero two", {"status", "order", "one", "zero", "two"}),
    ("can i move my appointment to next tuesday at three", {"move", "appointment", "tuesday", "three"}),
]


def _phone(text: str) -> np.ndarray:
    pcm = from_phone_line(to_phone_line(bytes(8000) + synthesize(text, RATE)), RATE)
    return np.frombuffer(pcm, "<i2").astype(np.float32) / 32768.0


@pytest.fixture(scope="module")
def model() -> object:
    return whisper.load_model(str(whisper.model_dir()), 2)


def test_the_window_follows_the_audio_in_whole_steps() -> None:
    window = Window(pad_s=1.0, min_s=2.0, step_s=1.0)
    assert window.frames(RATE // 2, RATE) == 200  # 0.5 s + 1 s pad → the 2 s minimum
    assert window.frames(int(2.3 * RATE), RATE) == 400  # 3.3 s → 4 s
    assert window.frames(3 * RATE, RATE) == 400  # exactly 4 s
    assert window.frames(60 * RATE, RATE) == MAX_FRAMES
    assert Window(pad_s=None).frames(RATE, RATE) == MAX_FRAMES


@pytest.mark.parametrize(("said", "words"), CLIPS)
def test_the_short_window_hears_what_the_30_s_window_hears(model: object, said: str, words: set[str]) -> None:
    audio = _phone(said)
    short = ShortWindowDecoder(model, prompt=DOMAIN_PROMPT)
    full = ShortWindowDecoder(model, prompt=DOMAIN_PROMPT, window=Window(pad_s=None))
    assert short.features(audio).shape[-1] < full.features(audio).shape[-1] == MAX_FRAMES
    cap = max_tokens(len(audio) / RATE)
    heard_short = normalize_words(drop_repeated_tail(short.decode(audio, max_new_tokens=cap).text))
    heard_full = normalize_words(full.decode(audio, max_new_tokens=cap).text)
    assert words <= set(heard_short), heard_short
    assert words <= set(heard_full), heard_full
    assert len(heard_short) <= len(normalize_words(said)) + 1  # nothing invented after the speech


async def test_a_short_answer_repeated_to_fill_the_window_is_decoded_again_over_a_longer_one(
    model: object,
) -> None:
    audio = _phone("yes")
    short = ShortWindowDecoder(model, prompt=DOMAIN_PROMPT).decode(audio, max_new_tokens=max_tokens(1.0))
    assert repeats_itself(short.text), short.text  # "Yes, yes, yes, yes, yes": why there are longer windows
    engine = WhisperEngine()
    await engine.start(MonotonicClock())
    decoded = engine.transcribe((audio * 32768).astype("<i2").tobytes())
    assert normalize_words(decoded.text) == ["yes"] and engine.window_retries >= 1
    assert not repeats_itself("I want to check the status of order 1002.")
    assert stopped_early("I want to", 2.6)  # a 2.6 s request is more than three words
    assert not stopped_early("I want to check the status of order 1002.", 3.1)
    assert not stopped_early("My number is 5550199.", 3.5)  # a digit per word said
    assert not stopped_early("Yes.", 1.0)
    assert not stopped_early("Goodbye.", 1.25)  # one word and the quiet around it
    assert not stopped_early("Thanks, goodbye.", 1.9)  # two words with a pause between them
    assert not repeats_itself("My number is 5 5 5 5 0 1.")


def test_the_output_is_capped_by_the_budget_it_is_given(model: object) -> None:
    audio = _phone(CLIPS[0][0])
    decoded = ShortWindowDecoder(model, prompt=DOMAIN_PROMPT).decode(audio, max_new_tokens=3)
    assert decoded.tokens <= 3 and len(normalize_words(decoded.text)) <= 3


def test_a_phrase_said_again_to_fill_the_window_is_cut_a_number_said_twice_stays() -> None:
    doubled = "Please send a receipt to my email. Please send a receipt to my email."
    assert drop_repeated_tail(doubled) == "Please send a receipt to my email."
    assert drop_repeated_tail("I want to go, I want to go, I want to go.") == "I want to go"
    for kept in ("no no no", "My number is 1 2 3 1 2 3.", "one two one two", "Where is my order?"):
        assert drop_repeated_tail(kept) == kept
