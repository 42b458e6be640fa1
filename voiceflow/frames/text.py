"""Text frames: what the caller said, what it means, and what the agent says."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from voiceflow.frames.base import Frame, Origin


@dataclass(frozen=True, slots=True, kw_only=True)
class Transcript(Frame):
    """Speech recognised from the caller; interim while they talk, final at end of turn."""

    origin: ClassVar[Origin] = Origin.USER
    text: str
    final: bool = True
    confidence: float | None = None
    language: str = "en"
    #: the recognizer also decoded this final together with the one before it (whose text was
    #: ``joins``): ``joined_text`` reads the two as one stretch of speech, which hears a request
    #: split by a pause better than its halves; whoever joins the turn's finals may use it
    joins: str | None = None
    joined_text: str | None = None

    def joined_to(self, last: str) -> str | None:
        """``last`` (the finals so far, as one text) with this final's joined reading in place of
        the final it joins, or None when it does not join the end of ``last``."""
        if not self.joins or not self.joined_text or not last.endswith(self.joins):
            return None
        return f"{last[: len(last) - len(self.joins)].strip()} {self.joined_text}".strip()


@dataclass(frozen=True, slots=True, kw_only=True)
class Intent(Frame):
    """What the caller wants, as decided by one tier of the intent router."""

    origin: ClassVar[Origin] = Origin.USER
    intent: str
    confidence: float
    text: str = ""
    entities: dict[str, Any] = field(default_factory=dict)
    emotion: str = "neutral"
    tier: str = ""
    latency_ms: float = 0.0
    #: a tier passed its threshold; False: the best guess below every threshold (not understood)
    confident: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class OfflineTurn(Frame):
    """A caller turn no LLM could answer (every engine down), handed to the offline dialogue policy.

    User input: the caller's request is never dropped, whoever ends up serving it.
    """

    origin: ClassVar[Origin] = Origin.USER
    intent: Intent


@dataclass(frozen=True, slots=True, kw_only=True)
class LLMToken(Frame):
    """A streamed piece of the agent's reply."""

    origin: ClassVar[Origin] = Origin.BOT
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class LLMResponseEnd(Frame):
    """The agent's reply for this turn is complete (flushes sentence aggregation)."""

    origin: ClassVar[Origin] = Origin.BOT


@dataclass(frozen=True, slots=True, kw_only=True)
class TextToSpeak(Frame):
    """A clause or sentence ready for synthesis; may carry SSML."""

    origin: ClassVar[Origin] = Origin.BOT
    text: str
    ssml: str | None = None
    utterance_id: int = 0
