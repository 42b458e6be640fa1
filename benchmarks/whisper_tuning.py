"""Whisper decode settings on the tuning sentences only: beam size, a domain vocabulary, numbers.

The held-out sets (caller_sentences.json, espeak-ng's voice) must not choose settings, so this
sweep reads ``tuning_sentences.json`` alone over the μ-law phone line, spoken by Piper and by
flite's four voices (unfamiliar, as espeak-ng is; Debian package flite). Piper reads that set
almost perfectly (one keyword changes the recall by 0.027), so its lines are also made harder,
deterministically: white noise at 15 and 10 dB SNR (two seeds at 10 dB) and the voice sped up
1.12x or slowed 0.9x (pitch moves with it) under noise. Twelve short answers ("no", "no that is
wrong", ...) check that a longer prompt does not bend them ("Know that ...").

``--vad`` hears each line as the agent does (resampling, Silero VAD, the STT processor: the
recognizer gets each utterance from its first voiced window) instead of decoding it whole.

Each variant reports, per condition and summed over all: keywords and digits missed, WER, and
the mean decode time (ms, noisy on a shared machine: give the load average with it).

    PYTHONPATH=. .venv/bin/python benchmarks/whisper_tuning.py [--quick] [--vad] [--only NAME]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from dataclasses import dataclass

import numpy as np

from voiceflow.core.clock import MonotonicClock
from voiceflow.services.stt.whisper import BEAM_SIZE, DOMAIN_PROMPT, LEAD_S, PROMPT, WhisperEngine
from voiceflow.sim.recognize import recognize_through_vad
from voiceflow.sim.speech import (
    FLITE_VOICES,
    digit_strings,
    digit_strings_exact,
    from_phone_line,
    keyword_recall,
    normalize_words,
    synthesize,
    synthesize_flite,
    to_phone_line,
    tuning_sentences,
    with_noise,
    word_error_rate,
)

DIGITS = frozenset("zero one two three four five six seven eight nine".split())

#: what callers of this agent ask for, in the words of its intents and slots (check an order,
#: track a delivery, schedule / reschedule / cancel an appointment, refund, account, feedback,
#: weekdays); digits stay out (they loop)
VOCABULARY = (
    "Callers check an order, track a delivery, schedule, reschedule or cancel an appointment for "
    "Monday, Tuesday, Wednesday, Thursday, Friday, Saturday or Sunday, ask for a refund, look up an "
    "account or give feedback."
)
VOCABULARY_WORDS = "order delivery appointment reschedule cancel refund billing account confirmation"

SHORT_ANSWERS = (
    "yes",
    "no",
    "no thanks",
    "yes please",
    "okay",
    "that is right",
    "no that is wrong",
    "sure",
    "nope",
    "correct",
    "yeah",
    "not really",
)


@dataclass(frozen=True, slots=True)
class Variant:
    name: str
    beam_size: int = BEAM_SIZE
    prompt: str = PROMPT
    hotwords: str | None = None
    spell_numbers: bool = True
    lead_s: float = LEAD_S


VARIANTS = (
    Variant("current (greedy, domain prompt)"),
    Variant("numbers as Whisper writes them", spell_numbers=False),
    Variant("no lead silence", lead_s=0.0),
    Variant("0.5 s lead silence", lead_s=0.5),
    Variant("1 s lead silence", lead_s=1.0),
    Variant("beam 2", beam_size=2),
    Variant("beam 3", beam_size=3),
    Variant("beam 5", beam_size=5),
    Variant("prompt + vocabulary after", prompt=f"{DOMAIN_PROMPT} {VOCABULARY}"),
    Variant("vocabulary + prompt after", prompt=f"{VOCABULARY} {DOMAIN_PROMPT}"),
    Variant("beam 5, prompt + vocabulary after", beam_size=5, prompt=f"{DOMAIN_PROMPT} {VOCABULARY}"),
    Variant("beam 5, vocabulary + prompt after", beam_size=5, prompt=f"{VOCABULARY} {DOMAIN_PROMPT}"),
    Variant("hotwords: intent words", hotwords=VOCABULARY_WORDS),
)


def flite_line(text: str, voice: str) -> bytes:
    """flite's ``voice`` saying ``text`` (0.25 s lead, 1 s tail), over the phone line, at 16 kHz."""
    said = bytes(8000) + synthesize_flite(text, 16000, voice=voice)
    return from_phone_line(to_phone_line(said), 16000) + bytes(32000)


def phone_line(text: str, *, snr_db: float | None = None, seed: int = 0, speed: float = 1.0) -> bytes:
    """Piper saying ``text`` (0.25 s lead, 1 s tail of silence), optionally sped up and under
    seeded white noise, over μ-law 8 kHz and back at 16 kHz."""
    pcm = np.frombuffer(bytes(8000) + synthesize(text, 16000), "<i2").astype(np.float64)
    if speed != 1.0:
        pcm = np.interp(np.arange(0, len(pcm), speed), np.arange(len(pcm)), pcm)
    pcm16 = np.clip(pcm, -32768, 32767).astype("<i2").tobytes()
    if snr_db is not None:
        pcm16 = with_noise(pcm16, snr_db, seed, skip=8000)
    return from_phone_line(to_phone_line(pcm16), 16000) + bytes(16000)


def conditions(texts: list[str], quick: bool) -> dict[str, list[bytes]]:
    out = {
        "clean": [phone_line(t) for t in texts],
        "snr15": [phone_line(t, snr_db=15, seed=i) for i, t in enumerate(texts)],
        "snr10": [phone_line(t, snr_db=10, seed=i) for i, t in enumerate(texts)],
    }
    if not quick:
        out["snr10b"] = [phone_line(t, snr_db=10, seed=100 + i) for i, t in enumerate(texts)]
        out["fast_snr15"] = [phone_line(t, snr_db=15, seed=200 + i, speed=1.12) for i, t in enumerate(texts)]
        out["slow_snr15"] = [phone_line(t, snr_db=15, seed=300 + i, speed=0.9) for i, t in enumerate(texts)]
        out["fast_snr10"] = [phone_line(t, snr_db=10, seed=400 + i, speed=1.12) for i, t in enumerate(texts)]
    for voice in FLITE_VOICES[: 2 if quick else None]:
        out[f"flite_{voice}"] = [flite_line(t, voice) for t in texts]
    return out


def run_variant(
    variant: Variant, lines: dict[str, list[bytes]], short: list[bytes], vad: bool = False
) -> dict[str, object]:
    sentences = tuning_sentences()
    engine = WhisperEngine(
        beam_size=variant.beam_size,
        initial_prompt=variant.prompt,
        spell_numbers=variant.spell_numbers,
        lead_s=variant.lead_s,
    )

    def hear(pcm: bytes) -> str:
        if vad:
            return asyncio.run(recognize_through_vad(engine, pcm, 16000))[0]
        return engine.transcribe(pcm, variant.hotwords).text

    asyncio.run(engine.start(MonotonicClock()))
    engine.transcribe(short[0], variant.hotwords)  # warm
    row: dict[str, object] = {"variant": variant.name}
    counts = ("keywords_missed", "digits_missed", "keywords", "digits", "strings_missed", "strings")
    totals = dict.fromkeys(counts, 0)
    n_str = sum(len(digit_strings(s.spoken)) for s in sentences)  # the same in every condition
    wers, times = [], []
    for name, pcms in lines.items():
        heard = []
        for pcm in pcms:
            start = time.perf_counter()
            heard.append(hear(pcm))
            times.append(time.perf_counter() - start)
        pairs = list(zip(sentences, heard, strict=True))
        keywords = [(s.keywords, h) for s, h in pairs]
        digits = [
            (tuple(k for k in s.keywords if k in DIGITS), h) for s, h in pairs if DIGITS & set(s.keywords)
        ]
        n_kw, n_dig = sum(len(k) for k, _ in keywords), sum(len(k) for k, _ in digits)
        kw_missed = round((1 - keyword_recall(keywords)) * n_kw)
        dig_missed = round((1 - keyword_recall(digits)) * n_dig)
        wer = word_error_rate([(s.spoken, h) for s, h in pairs])
        wers.append(wer)
        str_missed = round((1 - digit_strings_exact([(s.spoken, h) for s, h in pairs])) * n_str)
        totals["strings_missed"] += str_missed
        totals["strings"] += n_str
        row[name] = {"wer": round(wer, 3), "keywords_missed": kw_missed, "digits_missed": dig_missed}
        totals["keywords_missed"] += kw_missed
        totals["digits_missed"] += dig_missed
        totals["keywords"] += n_kw
        totals["digits"] += n_dig
    exact = sum(
        normalize_words(hear(pcm)) == normalize_words(answer)
        for answer, pcm in zip(SHORT_ANSWERS, short, strict=True)
    )
    row["total"] = totals | {
        "wer_mean": round(sum(wers) / len(wers), 4),
        "decode_ms_mean": round(1000 * sum(times) / len(times), 1),
        "short_answers_exact": f"{exact}/{len(SHORT_ANSWERS)}",
    }
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="three conditions instead of seven")
    parser.add_argument("--json", action="store_true", help="one JSON object instead of the table")
    parser.add_argument(
        "--vad", action="store_true", help="each line through resampling, Silero VAD and the STT processor"
    )
    parser.add_argument("--only", action="append", help="the variants whose names hold this (repeatable)")
    args = parser.parse_args()
    lines = conditions([s.spoken for s in tuning_sentences()], args.quick)
    short = [phone_line(a) for a in SHORT_ANSWERS]
    variants = [v for v in VARIANTS if not args.only or any(o in v.name for o in args.only)]
    rows = [run_variant(variant, lines, short, args.vad) for variant in variants]
    if args.json:
        print(json.dumps({"variants": rows}))
        return
    heads = ("keywords missed", "digits missed", "digit strings missed", "WER mean", "decode ms", "short")
    print(
        f"{'variant':<44} {heads[0]:>16} {heads[1]:>14} {heads[2]:>21}"
        f" {heads[3]:>9} {heads[4]:>10} {heads[5]:>6}"
    )
    for row in rows:
        total = row["total"]
        assert isinstance(total, dict)
        print(
            f"{row['variant']!s:<44} {total['keywords_missed']:>7} / {total['keywords']:<6}"
            f" {total['digits_missed']:>5} / {total['digits']:<6}"
            f" {total['strings_missed']:>12} / {total['strings']:<6} {total['wer_mean']:>9}"
            f" {total['decode_ms_mean']:>10} {total['short_answers_exact']:>6}"
        )


if __name__ == "__main__":
    main()
