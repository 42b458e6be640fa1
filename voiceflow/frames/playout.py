"""Playout frames: what the caller has actually heard, reported back by output transports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from voiceflow.frames.base import Frame, Origin


@dataclass(frozen=True, slots=True, kw_only=True)
class Mark(Frame):
    """Sent downstream with agent audio; the transport echoes it back once played."""

    origin: ClassVar[Origin] = Origin.BOT
    #: the mark's label on the wire (Twilio ``mark.name``)
    label: str
    utterance_id: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class PlayoutReport(Frame):
    """Travels upstream: ``played_ms`` of utterance ``utterance_id`` reached the caller."""

    utterance_id: int
    played_ms: float
    finished: bool = False
    mark: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ResumeSpeaking(Frame):
    """Travels downstream to the TTS: the interruption was false (a cough, "mm-hm"); say
    utterance ``utterance_id`` again from ``from_ms``, the point the caller had heard."""

    utterance_id: int
    from_ms: float
