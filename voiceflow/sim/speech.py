"""Real speech for tests and benchmarks: Piper-synthesized caller audio, a phone line, WER.

``synthesize`` speaks text with the offline Piper voice (noise scales at 0, so the
audio is the same on every run) and caches the PCM16 as WAV under
``.voiceflow/cache/speech`` (or ``$VOICEFLOW_CACHE_DIR/speech``), keyed by text,
rate and voice. ``to_phone_line`` / ``from_phone_line`` take audio through G.711
μ-law at 8 kHz as a telephone call would. ``word_errors`` is a plain word-level
edit distance after a light normalization (case, punctuation, contractions).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import wave
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from voiceflow.config import PathSettings, section_from_env
from voiceflow.number_words import DIGIT_WORDS
from voiceflow.processors.audio.codecs import ulaw_decode, ulaw_encode
from voiceflow.processors.audio.resample import StreamResampler

PHONE_RATE = 8000


def cache_dir() -> Path:
    """``$VOICEFLOW_CACHE_DIR/speech`` (``.voiceflow/cache/speech`` by default)."""
    return section_from_env(PathSettings).cache_dir / "speech"


# -- WAV ----------------------------------------------------------------------------------------
def write_wav(path: str | Path, pcm16: bytes, sample_rate: int, channels: int = 1) -> None:
    """Write PCM16 LE to a WAV file atomically (a crash never leaves half a cache entry)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with wave.open(str(tmp), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(pcm16)
    tmp.replace(path)


def read_wav(path: str | Path) -> tuple[bytes, int]:
    """(PCM16 LE bytes, sample rate) of a 16-bit WAV file."""
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2:
            raise ValueError(f"{path}: {8 * w.getsampwidth()}-bit WAV, expected 16-bit")
        return w.readframes(w.getnframes()), w.getframerate()


# -- synthesis -----------------------------------------------------------------------------------
def synthesize(text: str, sample_rate: int = 16000, *, model_path: str | None = None) -> bytes:
    """``text`` spoken by Piper as PCM16 mono at ``sample_rate`` (deterministic, cached on disk)."""
    from voiceflow.services.tts.piper import PiperEngine, default_model_path

    model = model_path or default_model_path()
    key = hashlib.sha256(f"{Path(model).name}|{sample_rate}|{text}".encode()).hexdigest()[:24]
    path = cache_dir() / f"{key}.wav"
    if path.exists():
        pcm, rate = read_wav(path)
        if rate == sample_rate:
            return pcm
    # head_words=0: a caller says the sentence in one go (the head split is the agent's latency trick)
    engine = PiperEngine(model, noise_scale=0.0, noise_w_scale=0.0, head_words=0)
    native = b"".join(engine.synthesize_blocking(text))
    resampler = StreamResampler(engine.sample_rate, sample_rate)
    pcm = resampler.process(native, last=True)
    write_wav(path, pcm, sample_rate)
    return pcm


#: the second voice: espeak-ng's formant synthesis, unlike Piper's neural voice (a held-out
#: speaker for recognizer measurements; nothing is tuned on it)
ESPEAK_VOICE = "en-us"


def synthesize_espeak(text: str, sample_rate: int = 16000, *, voice: str = ESPEAK_VOICE) -> bytes:
    """``text`` spoken by espeak-ng (Debian package ``espeak-ng``) as PCM16 mono (cached on disk)."""
    return _external_voice("espeak-ng", ["-v", voice, "-w", "{out}", "--", text], sample_rate)


#: flite's voices (Debian package ``flite``): more unfamiliar speakers, for choosing recognizer
#: settings (benchmarks/whisper_tuning.py) while espeak-ng's stays held out
FLITE_VOICES = ("kal16", "slt", "rms", "awb")


def synthesize_flite(text: str, sample_rate: int = 16000, *, voice: str = "kal16") -> bytes:
    """``text`` spoken by one of flite's voices as PCM16 mono (cached on disk)."""
    return _external_voice("flite", ["-voice", voice, "-t", text, "-o", "{out}"], sample_rate)


def _external_voice(binary: str, args: list[str], sample_rate: int) -> bytes:
    """Speech from a synthesizer program that writes a WAV file (``{out}`` in ``args``), resampled
    to ``sample_rate`` and cached on disk by program, arguments and rate."""
    import shutil
    import subprocess
    import tempfile

    key = hashlib.sha256(f"{binary}|{'|'.join(args)}|{sample_rate}".encode()).hexdigest()[:24]
    path = cache_dir() / f"{binary.split('-')[0]}-{key}.wav"
    if path.exists():
        pcm, rate = read_wav(path)
        if rate == sample_rate:
            return pcm
    program = shutil.which(binary)
    if program is None:
        raise RuntimeError(f"{binary} is not installed (scripts/setup.sh installs it)")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "voice.wav"
        argv = [program, *(str(out) if a == "{out}" else a for a in args)]
        subprocess.run(argv, check=True, capture_output=True, timeout=60)
        native, rate = read_wav(out)
    pcm = StreamResampler(rate, sample_rate).process(native, last=True)
    write_wav(path, pcm, sample_rate)
    return pcm


# -- the phone line ------------------------------------------------------------------------------
def with_noise(pcm16: bytes, snr_db: float, seed: int, *, skip: int = 0) -> bytes:
    """``pcm16`` under seeded white noise at ``snr_db`` against the power of the speech after its
    first ``skip`` samples (lead silence left out of the measure)."""
    import numpy as np

    pcm = np.frombuffer(pcm16, "<i2").astype(np.float64)
    power = float(np.mean(pcm[skip:] ** 2))
    pcm = pcm + np.random.default_rng(seed).normal(0, np.sqrt(power / 10 ** (snr_db / 10)), pcm.shape)
    return np.clip(pcm, -32768, 32767).astype("<i2").tobytes()


def to_phone_line(pcm16: bytes, sample_rate: int = 16000) -> bytes:
    """PCM16 at ``sample_rate`` → μ-law bytes at 8 kHz, as a telephone network carries it."""
    narrow = StreamResampler(sample_rate, PHONE_RATE).process(pcm16, last=True)
    return ulaw_encode(narrow)


def from_phone_line(ulaw: bytes, sample_rate: int = PHONE_RATE) -> bytes:
    """μ-law 8 kHz → PCM16 at ``sample_rate`` (8 kHz by default: decode only)."""
    pcm = ulaw_decode(ulaw)
    if sample_rate == PHONE_RATE:
        return pcm
    return StreamResampler(PHONE_RATE, sample_rate).process(pcm, last=True)


# -- the caller sentence set ---------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CallerSentence:
    #: as a caller's words are written
    text: str
    #: the same words exactly as spoken (the WER reference and what Piper is asked to say)
    spoken: str
    #: words that must survive recognition (domain words and digits)
    keywords: tuple[str, ...]


def _sentences(name: str) -> list[CallerSentence]:
    raw = resources.files("voiceflow.sim").joinpath(f"data/{name}").read_text("utf-8")
    return [
        CallerSentence(text=s["text"], spoken=s["spoken"], keywords=tuple(s["keywords"]))
        for s in json.loads(raw)["sentences"]
    ]


def caller_sentences() -> list[CallerSentence]:
    """The shipped held-out set of caller-style sentences (orders, appointments, digits, dates)."""
    return _sentences("caller_sentences.json")


def tuning_sentences() -> list[CallerSentence]:
    """Sentences for choosing recognizer settings, written apart from the held-out caller set."""
    return _sentences("tuning_sentences.json")


# -- scoring -------------------------------------------------------------------------------------
_CONTRACTIONS = {
    "can't": "can not",
    "won't": "will not",
    "i'm": "i am",
    "let's": "let us",
}
_IS_CONTRACTED = re.compile(r"^(that|it|what|there|here|where|he|she|who|how)'s$")
_SUFFIXES = (("n't", " not"), ("'re", " are"), ("'ve", " have"), ("'ll", " will"), ("'d", " would"))


def normalize_words(text: str) -> list[str]:
    """Lower case, punctuation dropped, common contractions expanded ("that's" → "that is"),
    written numbers said as words ("order 1002" → "order one zero zero two", "5th" → "fifth",
    "3 pm" → "three p m"), so a recognizer that writes digits (Whisper) is scored on its words."""
    if any(c.isdigit() for c in text):
        from voiceflow.services.stt.domain_lm import spoken_form

        text = spoken_form(text)
    words: list[str] = []
    for raw in re.findall(r"[a-z0-9']+", text.lower()):
        word = raw.strip("'")
        if word in _CONTRACTIONS:
            words.extend(_CONTRACTIONS[word].split())
            continue
        if _IS_CONTRACTED.match(word):
            words.extend([word[:-2], "is"])
            continue
        for suffix, expansion in _SUFFIXES:
            if word.endswith(suffix) and len(word) > len(suffix):
                words.extend((word[: -len(suffix)] + expansion).split())
                break
        else:
            if word:
                words.append(word)
    return words


#: spoken forms of one digit: "oh" said for zero counts as "zero" on either side
_DIGIT_ALIASES = {"oh": "zero", "o": "zero"}


def _edits(ref: list[str], hyp: list[str]) -> int:
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        diagonal, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            diagonal, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, diagonal + (r != h))
    return row[len(hyp)]


_FOUR_DIGITS = re.compile(r"(?<![\d-])([1-9]\d)(\d\d)(?![\d-])")


def _in_pairs(text: str) -> str:
    """Four-digit numbers written as said in pairs: "1022" → "10 22" ("ten twenty two"), "1205"
    → "12 oh 5" ("twelve oh five")."""

    def pairs(m: re.Match[str]) -> str:
        return f"{m[1]} {int(m[2])}" if m[2][0] != "0" else f"{m[1]} oh {m[2][1]}"

    return _FOUR_DIGITS.sub(pairs, text)


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(substitutions + deletions + insertions, reference word count) after normalization.

    Fair to both ways of writing numbers: "oh" counts as "zero" on either side, and a written
    four-digit number is also read in pairs ("1022" as "ten twenty two"); the closer reading
    is scored."""
    ref = [_DIGIT_ALIASES.get(w, w) for w in normalize_words(reference)]
    readings = {hypothesis, _in_pairs(hypothesis)}
    hyps = [[_DIGIT_ALIASES.get(w, w) for w in normalize_words(h)] for h in readings]
    return min(_edits(ref, hyp) for hyp in hyps), len(ref)


def word_error_rate(pairs: list[tuple[str, str]]) -> float:
    """Corpus WER over (reference, hypothesis) pairs: total errors / total reference words."""
    errors = words = 0
    for ref, hyp in pairs:
        e, n = word_errors(ref, hyp)
        errors, words = errors + e, words + n
    if words == 0:
        raise ValueError("no reference words")
    return errors / words


def number_readings(text: str) -> set[str]:
    """The words of every other way a written number in ``text`` is said: "1022" is "one zero
    two two" (``normalize_words``) but also "ten twenty two"; "628" also "six hundred twenty eight"."""
    from voiceflow.services.stt.domain_lm import cardinal

    words: set[str] = set()
    for number in re.findall(r"(?<![\d-])\d{3,4}(?![\d-])", text):
        n = int(number)
        if len(number) == 4 and number[0] != "0":
            words.update(f"{cardinal(n // 100)} {cardinal(n % 100)}".split())
        elif len(number) == 3 and number[0] != "0":
            words.update(cardinal(n).split())
    return words


def digit_strings(text: str, min_digits: int = 3) -> list[str]:
    """The runs of ``min_digits`` or more digits said one by one in ``text`` ("order one zero
    zero two" → ["1002"]; "oh" is zero; a written "1002" or "415-2083" read as said)."""
    runs: list[str] = []
    current = ""
    for word in [*normalize_words(text), ""]:
        digit = DIGIT_WORDS.get(word)
        if digit is not None:
            current += digit
            continue
        if len(current) >= min_digits:
            runs.append(current)
        current = ""
    return runs


def digit_strings_exact(pairs: list[tuple[str, str]]) -> float:
    """Share of the digit strings said in the references (ids, phone numbers, codes: three
    digits or more) that the hypothesis holds whole, every digit in order: keyword recall
    counts a digit found anywhere, so "10002" for "one zero zero two" passes it, not this."""
    found = total = 0
    for ref, hyp in pairs:
        heard = digit_strings(hyp)
        for run in digit_strings(ref):
            total += 1
            found += run in heard
    if total == 0:
        raise ValueError("no digit strings")
    return found / total


def keyword_recall(items: list[tuple[tuple[str, ...], str]]) -> float:
    """Share of (sentence, keyword) pairs whose keyword appears in that sentence's hypothesis.

    Fair to both ways of writing numbers: a written number counts as each of its readings
    (``number_readings``) and "oh" as "zero", in the keywords and in the hypothesis alike."""
    found = total = 0
    for keywords, hyp in items:
        words = {_DIGIT_ALIASES.get(w, w) for w in normalize_words(hyp)} | number_readings(hyp)
        for k in keywords:
            total += 1
            found += _DIGIT_ALIASES.get(k, k) in words
    if total == 0:
        raise ValueError("no keywords")
    return found / total
