"""The streaming speech-to-text contract every recognizer implements.

A recognizer is an async stream, because cloud recognizers (Deepgram) push
results and endpoints on their own schedule; an offline recognizer hides its
threads behind the same shape. The engine is shared by every call of a process
(models loaded once in ``start``); each call opens one ``STTStream``:

- ``send(audio)`` as audio arrives (in the format the stream was opened with);
- ``finalize()`` when *our* endpointer (the VAD pause) decided the utterance is over:
  the stream answers with one ``FinalText(speech_final=True, from_finalize=True)``
  covering everything not yet finalised (empty text when nothing was said);
- ``events()`` yields, in order: ``SpeechStarted``, ``InterimText``, ``FinalText``
  (``speech_final`` when the engine itself judged the utterance over), ``UtteranceEnd``;
- ``aclose()`` ends the stream (idempotent); ``events()`` then finishes. ``send`` or
  ``finalize`` after it raise ``STTClosedError``.

Errors: audio the engine cannot take raises ``STTInputError`` from ``send`` (the
stream stays usable); a format the engine cannot take raises it from
``open_stream``; a provider failure arrives as an ``STTFailure`` event
(``recoverable`` when the stream carries on, e.g. after a reconnect) and never as
an exception out of ``events()``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Literal, Protocol

from voiceflow.core.clock import Clock

Encoding = Literal["linear16", "mulaw"]


@dataclass(frozen=True, slots=True)
class Word:
    text: str
    #: seconds from the start of the stream's audio
    start: float
    end: float
    confidence: float = 1.0


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    #: seconds from the start of the stream's audio
    at: float


@dataclass(frozen=True, slots=True)
class InterimText:
    text: str


@dataclass(frozen=True, slots=True)
class FinalText:
    text: str
    confidence: float
    #: the engine (or a ``finalize`` call) closed the utterance: the turn's text is complete
    speech_final: bool = False
    words: tuple[Word, ...] = field(default_factory=tuple)
    #: audio covered, seconds from the start of the stream
    start: float = 0.0
    end: float = 0.0
    #: this is the answer to a ``finalize()`` call (exactly one per call), not the engine's own endpoint
    from_finalize: bool = False
    #: the previous final's text, when this one was also decoded together with it (``joined_text``)
    joins: str | None = None
    joined_text: str | None = None


@dataclass(frozen=True, slots=True)
class UtteranceEnd:
    """The engine saw the end of an utterance (e.g. Deepgram's ``UtteranceEnd``)."""

    #: end of the last word, seconds from the start of the stream
    last_word_end: float


@dataclass(frozen=True, slots=True)
class STTFailure:
    message: str
    #: the stream goes on (a retry or reconnect is under way); otherwise it is over
    recoverable: bool = False


STTEvent = SpeechStarted | InterimText | FinalText | UtteranceEnd | STTFailure


class STTInputError(ValueError):
    """Audio that the recognizer cannot take (wrong rate, odd length, unsupported encoding)."""


class STTClosedError(RuntimeError):
    """``send`` or ``finalize`` on a stream that was closed."""


class STTStream(Protocol):
    async def send(self, audio: bytes) -> None: ...

    async def finalize(self) -> None: ...

    def events(self) -> AsyncIterator[STTEvent]: ...

    async def aclose(self) -> None: ...


class STTEngine(Protocol):
    """Shared by every call of a process (models loaded once in ``start``)."""

    name: str
    #: the encodings ``open_stream`` accepts; "mulaw" means 8 kHz G.711 straight from a phone line
    encodings: tuple[Encoding, ...]

    async def start(self, clock: Clock) -> None:
        """Load models / open pools (idempotent; ``open_stream`` starts the engine if needed)."""
        ...

    async def open_stream(
        self,
        *,
        sample_rate: int = 16000,
        encoding: Encoding = "linear16",
        language: str = "en",
        hints: tuple[str, ...] = (),
    ) -> STTStream: ...

    async def aclose(self) -> None: ...


# -- checks adapters share ------------------------------------------------------------------------
def check_pcm16(audio: bytes) -> None:
    """Raise ``STTInputError`` unless ``audio`` is whole PCM16 samples."""
    if not audio:
        raise STTInputError("empty audio")
    if len(audio) % 2:
        raise STTInputError(f"odd-length PCM16 ({len(audio)} bytes): a sample is cut in half")


def check_format(
    engine: str,
    *,
    encoding: str,
    sample_rate: int,
    encodings: tuple[Encoding, ...],
    sample_rates: tuple[int, ...],
) -> None:
    """Raise ``STTInputError`` for a stream format the engine cannot decode."""
    if encoding not in encodings:
        raise STTInputError(f"{engine} takes {', '.join(encodings)} audio, not {encoding!r}")
    if sample_rate not in sample_rates:
        rates = ", ".join(f"{r} Hz" for r in sample_rates)
        raise STTInputError(f"{engine} takes {rates} audio, not {sample_rate} Hz (resample before STT)")


def check_english_stream(
    engine: str,
    *,
    encoding: str,
    sample_rate: int,
    encodings: tuple[Encoding, ...],
    rate: int,
    language: str,
    model: str,
) -> None:
    """``check_format`` for an offline engine with one rate and an English-only ``model``;
    ``ValueError`` for another language (a configuration error, not bad audio)."""
    rates = (rate,)
    check_format(engine, encoding=encoding, sample_rate=sample_rate, encodings=encodings, sample_rates=rates)
    if not language.lower().startswith("en"):
        raise ValueError(f"{engine}: {model} is English only, not {language!r}")
