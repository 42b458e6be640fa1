"""Speech activity frames: who is talking, on the ordered lane with the audio they describe.

Two levels, two vocabularies. The VAD reports voice activity (``VoiceStarted``,
``VoiceStopped``: a breath or a comma pause is a stop). The endpointer decides
turns (``UserStartedSpeaking`` at the start of a caller turn, ``UserStoppedSpeaking``
at its end, right after the turn's final transcript). Downstream of the endpointer
only the turn frames travel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from voiceflow.frames.base import Frame, Origin


@dataclass(frozen=True, slots=True, kw_only=True)
class VoiceStarted(Frame):
    """The VAD heard voice start (onset confirmed); the caller may be pausing mid-turn."""

    origin: ClassVar[Origin] = Origin.USER
    #: the agent was speaking and this onset interrupted it (set by ``BargeIn``)
    over_agent: bool = False
    #: for such an onset, how long the agent had been audible (seconds)
    agent_audible_secs: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class VoiceStopped(Frame):
    """The VAD heard voice stop: a pause, not necessarily the end of the caller's turn."""

    origin: ClassVar[Origin] = Origin.USER
    #: clock time of the last voiced audio before the pause
    last_voiced_at: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class VoicePaused(Frame):
    """The VAD heard a short quiet inside speech (shorter than its stop window): a hint that lets
    the endpointer prepare a reply early (``resumed=True``: the voice came back before a stop)."""

    origin: ClassVar[Origin] = Origin.USER
    #: clock time of the last voiced audio before the quiet
    last_voiced_at: float | None = None
    resumed: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class EndOfTurnScore(Frame):
    """An audio end-of-turn model's verdict on a pause: P(the caller has finished)."""

    origin: ClassVar[Origin] = Origin.USER
    probability: float
    #: the ``VoiceStopped.last_voiced_at`` of the pause it judges
    last_voiced_at: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class UserStartedSpeaking(Frame):
    """A caller turn began (the endpointer's decision)."""

    origin: ClassVar[Origin] = Origin.USER
    #: the caller went on just after the previous turn was judged over: this turn replaces it
    #: (its final transcript carries both parts; the reply to the first part was cancelled)
    continues: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class UserStoppedSpeaking(Frame):
    """The caller's turn is over (the endpointer's decision); follows the turn's final transcript."""

    origin: ClassVar[Origin] = Origin.USER
    #: clock time of the caller's last voiced audio, for voice-to-voice latency
    last_voiced_at: float | None = None
    #: a speculative end: the reply is prepared but held until the end is confirmed
    #: (``voiceflow.processors.speculation``); a discarded one is followed by
    #: ``UserStartedSpeaking(continues=True)``
    provisional: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class BotStartedSpeaking(Frame):
    origin: ClassVar[Origin] = Origin.SYSTEM


@dataclass(frozen=True, slots=True, kw_only=True)
class BotStoppedSpeaking(Frame):
    origin: ClassVar[Origin] = Origin.SYSTEM
