"""Real speech round trip: Piper speaks the caller sentences, a phone line carries them
(μ-law 8 kHz), then resampling to 16 kHz, Silero VAD and pocketsphinx recognise them.

Measured on this machine (pocketsphinx 5.1.1 en-us, joe-medium voice, hints on,
``channel="phone"``): WER 0.330, keyword recall 0.678, digit recall 0.535,
domain-word recall 0.727 over 34 sentences / 282 words; with the five sentences that say
digits as "oh" and in pairs, 39 sentences: WER 0.338, keyword recall 0.652, digit recall
0.491, domain-word recall 0.720. Without hints: WER 0.362,
keyword recall 0.635; from the model's default channel mean: WER 0.344. The bounds
sit a little beyond those figures. Synthesis is cached on disk; recognition runs
once per session (about 20 s here).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from tests.speech.speech_helpers import run_in_own_loop
from voiceflow.services.stt.engine import STTEngine
from voiceflow.services.stt.pocketsphinx import PocketsphinxEngine
from voiceflow.sim.recognize import recognize_through_vad
from voiceflow.sim.speech import (
    PHONE_RATE,
    CallerSentence,
    caller_sentences,
    from_phone_line,
    keyword_recall,
    normalize_words,
    synthesize,
    to_phone_line,
    word_error_rate,
    word_errors,
)

WER_BOUND = 0.36
KEYWORD_RECALL_BOUND = 0.64
DIGIT_RECALL_BOUND = 0.45
DOMAIN_RECALL_BOUND = 0.68
DIGITS = frozenset("zero one two three four five six seven eight nine".split())


@dataclass(frozen=True)
class Recognised:
    sentence: CallerSentence
    hypothesis: str
    errors: list[str]


Voice = Callable[[str, int], bytes]


def _phone_call(sentence: CallerSentence, voice: Voice = synthesize) -> bytes:
    """The caller's words as the far end of a phone line delivers them: PCM16 at 8 kHz."""
    speech = voice(sentence.spoken, 16000)
    padded = bytes(16000) + speech + bytes(32000)  # 0.5 s before, 1 s after
    return from_phone_line(to_phone_line(padded, 16000))


async def _recognise(engine: STTEngine, sentence: CallerSentence, voice: Voice = synthesize) -> Recognised:
    text, errors = await recognize_through_vad(engine, _phone_call(sentence, voice), PHONE_RATE)
    return Recognised(sentence, text, errors)


def recognise_all(
    engine: STTEngine, sentences: list[CallerSentence] | None = None, voice: Voice = synthesize
) -> list[Recognised]:
    """The held-out caller set (or ``sentences``) spoken by ``voice`` (Piper by default) through
    the phone-line round trip with ``engine``."""

    async def main() -> list[Recognised]:
        return [await _recognise(engine, s, voice) for s in sentences or caller_sentences()]

    # its own thread and loop: a session fixture must not depend on a test's event loop
    return run_in_own_loop(main)


@pytest.fixture(scope="session")
def recognised() -> list[Recognised]:
    return recognise_all(PocketsphinxEngine(channel="phone"))


def test_caller_set_is_big_enough_and_speakable() -> None:
    sentences = caller_sentences()
    assert len(sentences) >= 30
    zero = {"oh": "zero"}  # a keyword "zero" said as "oh" ("one oh oh seven")
    for s in sentences:
        said = {zero.get(w, w) for w in normalize_words(s.spoken)}
        assert {zero.get(k, k) for k in s.keywords} <= said, s.spoken


def test_word_error_rate_on_the_phone_line_stays_under_the_bound(recognised: list[Recognised]) -> None:
    assert all(not r.errors for r in recognised), [r.errors for r in recognised if r.errors]
    assert all(r.hypothesis for r in recognised), "every sentence is heard"
    wer = word_error_rate([(r.sentence.spoken, r.hypothesis) for r in recognised])
    print(f"\nround-trip WER {wer:.3f} over {len(recognised)} sentences")
    for r in recognised:
        e, n = word_errors(r.sentence.spoken, r.hypothesis)
        if e:
            print(f"  {e}/{n}  {r.sentence.spoken!r} -> {r.hypothesis!r}")
    assert wer <= WER_BOUND


def test_keywords_and_digits_survive(recognised: list[Recognised]) -> None:
    recall = keyword_recall([(r.sentence.keywords, r.hypothesis) for r in recognised])
    digit_items = [
        (tuple(k for k in r.sentence.keywords if k in DIGITS), r.hypothesis)
        for r in recognised
        if any(k in DIGITS for k in r.sentence.keywords)
    ]
    digit_recall = keyword_recall(digit_items)
    domain = ("order", "appointment", "cancel", "reschedule")
    domain_items = [
        (tuple(k for k in r.sentence.keywords if k in domain), r.hypothesis)
        for r in recognised
        if any(k in domain for k in r.sentence.keywords)
    ]
    domain_recall = keyword_recall(domain_items)
    print(f"\nkeyword recall {recall:.3f}, digits {digit_recall:.3f}, domain words {domain_recall:.3f}")
    assert recall >= KEYWORD_RECALL_BOUND
    assert digit_recall >= DIGIT_RECALL_BOUND
    assert domain_recall >= DOMAIN_RECALL_BOUND


def test_word_errors_counts_edits_after_normalization() -> None:
    assert word_errors("i would like that", "I'd like that.") == (0, 4)
    assert word_errors("one zero zero two", "one two") == (2, 4)
    assert word_errors("a b", "a x b y") == (2, 2)
    assert word_error_rate([("a b c d", "a b c d"), ("x y", "")]) == pytest.approx(2 / 6)
