"""What a paced output writes to (``AudioWire``), what it queues, and what it measured.

Private item types (``Chunk``, ``MarkItem``, ``PendingMark``) are shared with
``output`` only; ``AudioWire`` and ``OutputStats`` are public.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["AudioWire", "Chunk", "EncodedWire", "MarkItem", "OutputStats", "PendingMark"]


class AudioWire(Protocol):
    """The far end an output writes to (a Twilio stream, a browser socket)."""

    #: PCM16 rate the wire carries
    sample_rate: int
    #: True when the far end echoes marks once played (Twilio); else the clock decides
    echoes_marks: bool

    @property
    def closed(self) -> bool: ...

    async def send_audio(self, pcm16: bytes) -> None:
        """Write one frame of PCM16 at ``sample_rate``."""

    async def send_mark(self, name: str) -> None: ...

    async def send_clear(self) -> None:
        """Ask the far end to drop the audio it buffered."""

    async def send_event(self, event: dict[str, Any]) -> None:
        """A JSON side-channel event (transcripts, latency); wires without one ignore it."""


class EncodedWire(AudioWire, Protocol):
    """A wire that also takes frames already in its own codec, written as they are."""

    #: the wire's codec by its Realtime name ("audio/pcmu" for a Twilio stream)
    codec: str

    async def send_encoded(self, data: bytes) -> None:
        """Write one frame of ``codec`` bytes (no decoding, no resampling)."""


@dataclass(slots=True)
class Chunk:
    pcm: bytes  # PCM16 at the wire rate, or (``encoded``) the wire codec's bytes
    utterance_id: int
    utterance_ms: float  # position in the utterance at the end of this frame
    seq: int  # enqueue order, to find the first frame of a reply
    encoded: bool = False


@dataclass(slots=True)
class MarkItem:
    name: str
    utterance_id: int
    played_ms: float  # utterance audio before the mark
    final: bool  # the utterance is known to end here


@dataclass(slots=True)
class PendingMark:
    mark: MarkItem
    due: float  # clock time by which the audio before it will have played


@dataclass
class OutputStats:
    """What an output did, for tests and the latency benchmark."""

    frames_sent: int = 0
    marks_sent: int = 0
    marks_echoed: int = 0
    #: marks counted as played by the clock (wire without echoes, or an overdue echo)
    marks_assumed: int = 0
    clears: int = 0
    #: largest audio buffered ahead of the far end's playout right after a write (ms)
    max_lead_ms: float = 0.0
    #: frames of a continuous stretch written after the far end ran dry, and the worst delay
    late_frames: int = 0
    max_late_ms: float = 0.0
    #: per Interrupt: Interrupt frame created -> clear written (ms)
    clear_latency_ms: list[float] = field(default_factory=list)
    #: per turn: caller's last voiced audio -> first agent frame written (ms)
    v2v_ms: list[float] = field(default_factory=list)
