"""What the tiers answer and what the router decides.

A tier answers with a ``TierAnswer`` or raises ``TierUnavailable`` (no server
configured, server down, model not trained): the cascade records why and moves
on. The router's decision is an ``IntentResult``; it carries every attempt so a
benchmark or a log can show where the time went.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


class TierUnavailable(Exception):
    """The tier cannot answer now (not configured, server down, model missing)."""


@dataclass(frozen=True, slots=True)
class TierAnswer:
    intent: str
    confidence: float
    #: entities the tier found itself (Rasa's extractors); merged under the router's own
    entities: dict[str, Any] = field(default_factory=dict)
    #: (intent, confidence) best first, when the tier knows it
    ranking: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True, slots=True)
class TierAttempt:
    tier: str
    intent: str | None
    confidence: float
    latency_ms: float
    #: why the tier gave no answer (``None`` when it answered)
    skipped: str | None = None
    #: the answer passed this tier's threshold
    confident: bool = False


@dataclass(frozen=True, slots=True)
class IntentResult:
    """The router's decision for one utterance."""

    intent: str
    confidence: float
    text: str
    entities: dict[str, Any]
    emotion: str
    emotion_intensity: float
    #: tier whose answer was used: "regex" | "rasa" | "setfit" | "llm" | "none"
    tier: str
    #: that tier passed its threshold (False: best answer below thresholds, or the floor fallback)
    confident: bool
    #: total time to decide, every tier tried included (what the caller waits)
    latency_ms: float
    #: time spent in the deciding tier alone
    tier_latency_ms: float
    attempts: tuple[TierAttempt, ...] = ()

    def frame_fields(self) -> dict[str, Any]:
        """Keyword arguments for an ``Intent`` frame."""
        return {
            "intent": self.intent,
            "confidence": self.confidence,
            "text": self.text,
            "entities": dict(self.entities),
            "emotion": self.emotion,
            "tier": self.tier,
            "latency_ms": self.latency_ms,
            "confident": self.confident,
        }


class IntentTier(Protocol):
    """One classifier of the cascade (regex, Rasa, SetFit, LLM)."""

    name: str
    #: answers at or above this confidence stop the escalation
    threshold: float

    async def start(self) -> None:
        """Load models / open clients; must not raise for a missing optional backend."""
        ...

    async def classify(self, text: str) -> TierAnswer | None:
        """Classify ``text``; ``None`` means no opinion; raise ``TierUnavailable`` when it cannot run."""
        ...

    async def aclose(self) -> None: ...
