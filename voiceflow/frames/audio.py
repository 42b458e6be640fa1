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
