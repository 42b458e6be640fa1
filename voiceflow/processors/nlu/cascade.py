"""The escalation logic: try tiers cheapest first, stop at the first confident answer.

Each tier has its own confidence threshold. A tier that cannot run (no server,
no model, a timeout) is recorded as skipped with its reason. When no tier is
confident the best answer is kept, "best" meaning the highest confidence
relative to its own tier's threshold (a regex guess at 0.55 of 0.8 loses to a
SetFit answer at 0.45 of 0.5); below ``floor`` the utterance is out of scope.
Entities and emotion are extracted once per utterance, whatever tier decided.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from voiceflow.processors.nlu.emotion import detect_emotion
from voiceflow.processors.nlu.entities import DEFAULT_TIMEZONE, business_today, extract_entities
from voiceflow.processors.nlu.intents import OUT_OF_SCOPE
from voiceflow.processors.nlu.result import (
    IntentResult,
    IntentTier,
    TierAnswer,
    TierAttempt,
    TierUnavailable,
)

log = logging.getLogger("voiceflow.nlu")


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000.0, 4)


class IntentCascade:
    def __init__(
        self,
        tiers: Sequence[IntentTier],
        *,
        floor: float = 0.3,
        tz: str = DEFAULT_TIMEZONE,
        today: Callable[[], date] | None = None,
    ) -> None:
        names = [t.name for t in tiers]
        if len(set(names)) != len(names):
            raise ValueError(f"tier names must be unique, got {names}")
        self.tiers = list(tiers)
        self.floor = floor
        self.tz = tz
        self._today = today or (lambda: business_today(tz))

    def tier(self, name: str) -> IntentTier:
        return next(t for t in self.tiers if t.name == name)

    async def start(self) -> None:
        for tier in self.tiers:
            try:
                await tier.start()
            except Exception as exc:  # a tier that cannot start is skipped at classify time
                log.warning("intent tier %s failed to start: %s: %s", tier.name, type(exc).__name__, exc)

    async def aclose(self) -> None:
        for tier in self.tiers:
            try:
                await tier.aclose()
            except Exception as exc:
                log.warning("intent tier %s failed to close: %s", tier.name, exc)

    async def classify(self, text: str) -> IntentResult:
        started = time.perf_counter()
        attempts: list[TierAttempt] = []
        decided: tuple[IntentTier, TierAnswer, float] | None = None
        best: tuple[IntentTier, TierAnswer, float] | None = None
        if text.strip():
            for tier in self.tiers:
                t0 = time.perf_counter()
                answer, skipped = await self._ask(tier, text)
                latency = _ms(t0)
                if answer is None:
                    attempts.append(TierAttempt(tier.name, None, 0.0, latency, skipped or "no answer"))
                    continue
                confident = answer.confidence >= tier.threshold
                attempts.append(
                    TierAttempt(tier.name, answer.intent, answer.confidence, latency, None, confident)
                )
                if confident:
                    decided = (tier, answer, latency)
                    break
                if best is None or _relative(answer, tier) > _relative(best[1], best[0]):
                    best = (tier, answer, latency)
        return self._result(text, decided, best, attempts, started)

    async def _ask(self, tier: IntentTier, text: str) -> tuple[TierAnswer | None, str | None]:
        try:
            return await tier.classify(text), None
        except TierUnavailable as exc:
            log.debug("intent tier %s skipped: %s", tier.name, exc)
            return None, str(exc)
        except Exception as exc:  # a broken tier must not lose the utterance
            log.warning("intent tier %s raised %s: %s", tier.name, type(exc).__name__, exc)
            return None, f"error: {type(exc).__name__}: {exc}"

    def _result(
        self,
        text: str,
        decided: tuple[IntentTier, TierAnswer, float] | None,
        best: tuple[IntentTier, TierAnswer, float] | None,
        attempts: list[TierAttempt],
        started: float,
    ) -> IntentResult:
        chosen = decided or best
        tier_name, tier_latency, tier_entities = "none", 0.0, {}
        if chosen is not None and (decided is not None or chosen[1].confidence >= self.floor):
            intent, confidence = chosen[1].intent, chosen[1].confidence
            tier_name, tier_latency, tier_entities = chosen[0].name, chosen[2], chosen[1].entities
        else:
            intent = OUT_OF_SCOPE
            confidence = chosen[1].confidence if chosen is not None else 0.0
        entities: dict[str, Any] = {}
        emotion_label, intensity = "neutral", 0.0
        if text.strip():
            entities = {**tier_entities, **extract_entities(text, today=self._today(), tz=self.tz)}
            emotion = detect_emotion(text)
            emotion_label, intensity = emotion.label, emotion.intensity
        return IntentResult(
            intent=intent,
            confidence=round(confidence, 4),
            text=text,
            entities=entities,
            emotion=emotion_label,
            emotion_intensity=intensity,
            tier=tier_name,
            confident=decided is not None,
            latency_ms=_ms(started),
            tier_latency_ms=tier_latency,
            attempts=tuple(attempts),
        )


def _relative(answer: TierAnswer, tier: IntentTier) -> float:
    return answer.confidence / tier.threshold if tier.threshold > 0 else answer.confidence
