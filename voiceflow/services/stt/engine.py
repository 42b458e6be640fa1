"""The speech-to-text engine interface.

An engine hands out one session per audio stream (a call). A session decodes
audio as it is fed (interim text while the caller talks) and closes an
utterance with ``finish`` without going back over the audio already decoded.
Sessions are blocking objects: the processor calls them off the event loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class FinalTranscript:
    """What an utterance decoded to, with a confidence in [0, 1]."""

    text: str
    confidence: float
    #: audio decoded for this utterance, in samples (equals what was fed: no re-decoding)
    samples: int = 0


class STTSession(Protocol):
    """One stream's decoder state; reused across the turns of that stream."""

    @property
    def samples_fed(self) -> int:
        """Samples handed to ``feed`` in the current utterance."""
        ...

    @property
    def in_utterance(self) -> bool: ...

    def feed(self, pcm16: bytes) -> str | None:
        """Decode more audio (PCM16 mono at the engine's rate); returns new interim text or None."""
        ...

    def finish(self) -> FinalTranscript:
        """Close the current utterance and return its final transcript (empty if nothing was fed)."""
        ...

    def close(self) -> None:
        """Give the decoder back (to a pool); the session is unusable afterwards."""
        ...


class STTEngine(Protocol):
    name: str
    sample_rate: int

    def open_session(self) -> STTSession:
        """A fresh session (blocking: may load or take a decoder); call it off the event loop."""
        ...


class STTInputError(ValueError):
    """Audio that the recogniser cannot take (wrong rate, odd length, empty)."""
