"""Audio frames: PCM16 little-endian mono/multichannel with its sample rate."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from voiceflow.frames.base import Frame, Origin


@dataclass(frozen=True, slots=True, kw_only=True)
class _Audio(Frame):
    audio: bytes = field(repr=False)
    sample_rate: int
    channels: int = 1

    @property
    def num_samples(self) -> int:
        return len(self.audio) // (2 * self.channels)

    @property
    def duration(self) -> float:
        """Seconds of audio carried."""
        return self.num_samples / self.sample_rate


@dataclass(frozen=True, slots=True, kw_only=True)
class AudioRaw(_Audio):
    """Caller audio entering the graph from a transport."""

    origin: ClassVar[Origin] = Origin.USER


@dataclass(frozen=True, slots=True, kw_only=True)
class TTSAudio(_Audio):
    """Agent audio leaving the graph towards a transport."""

    origin: ClassVar[Origin] = Origin.BOT
    #: the utterance this chunk belongs to, for playout reports and truncation
    utterance_id: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class EncodedTTSAudio(Frame):
    """Agent audio already in a wire codec (a Realtime session's ``audio/pcmu`` for a phone call).

    An output whose wire carries ``codec`` sends these bytes as they are (no decode, no
    resampling, no re-encode); any other output decodes them first. Not PCM16, so it is a
    family of its own rather than a ``TTSAudio``: nothing that reads samples is handed it.
    """

    origin: ClassVar[Origin] = Origin.BOT
    audio: bytes = field(repr=False)
    codec: str  # a wire name: "audio/pcmu" (G.711 mu-law, one byte a sample)
    sample_rate: int
    utterance_id: int = 0

    @property
    def duration(self) -> float:
        """Seconds of audio carried (G.711: one byte a sample)."""
        return len(self.audio) / self.sample_rate
