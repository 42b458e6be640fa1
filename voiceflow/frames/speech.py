"""Speech activity frames: who is talking, on the ordered lane with the audio they describe."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from voiceflow.frames.base import Frame, Origin


@dataclass(frozen=True, slots=True, kw_only=True)
class UserStartedSpeaking(Frame):
    origin: ClassVar[Origin] = Origin.USER


@dataclass(frozen=True, slots=True, kw_only=True)
class UserStoppedSpeaking(Frame):
    origin: ClassVar[Origin] = Origin.USER
    #: clock time of the caller's last voiced audio, for voice-to-voice latency
    last_voiced_at: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BotStartedSpeaking(Frame):
    origin: ClassVar[Origin] = Origin.SYSTEM


@dataclass(frozen=True, slots=True, kw_only=True)
class BotStoppedSpeaking(Frame):
    origin: ClassVar[Origin] = Origin.SYSTEM
