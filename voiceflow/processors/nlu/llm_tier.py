"""Tier 4: ask the configured LLM to call ``classify_intent`` (function calling).

Provider-neutral: it talks to any ``LLMEngine`` (voiceflow/services/llm/engine.py).
The function declaration's ``intent`` enum and the system prompt come from the
intent catalogue, so the model can only answer with an intent the dialogue
knows. A reply without a valid call, an error or a timeout makes the tier
unavailable for this utterance; the cascade keeps the best earlier answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from voiceflow.core.clock import MonotonicClock
from voiceflow.processors.nlu.intents import IntentCatalog, default_catalog
from voiceflow.processors.nlu.result import TierAnswer, TierUnavailable
from voiceflow.services.llm.engine import ChatMessage, LLMEngine, TextDelta, ToolCallRequest
from voiceflow.services.llm.tools import ToolSpec

log = logging.getLogger("voiceflow.nlu.llm")

FUNCTION_NAME = "classify_intent"
_DEFAULT_CONFIDENCE = 0.8


def classify_intent_declaration(catalog: IntentCatalog) -> ToolSpec:
    """The tool the model must call; its ``intent`` enum is the catalogue's intent list."""
    return ToolSpec(
        name=FUNCTION_NAME,
        description="Classify what the caller wants in their last utterance.",
        parameters={
            "type": "object",
            "properties": {
                "intent": {
                    "type": "string",
                    "enum": list(catalog.names),
                    "description": "The caller's intent.",
                },
                "confidence": {
                    "type": "number",
                    "minimum": 0,
                    "maximum": 1,
                    "description": "How sure you are, from 0 to 1.",
                },
            },
            "required": ["intent", "confidence"],
        },
    )


def system_prompt(catalog: IntentCatalog) -> str:
    lines = [f"- {spec.name}: {spec.description}" for spec in catalog.intents]
    return (
        "You classify one utterance from a caller to a customer-service phone line. "
        f"Call {FUNCTION_NAME} exactly once. The intents are:\n" + "\n".join(lines)
    )


class LLMTier:
    name = "llm"

    def __init__(
        self,
        engine: LLMEngine | None,
        *,
        threshold: float = 0.5,
        timeout: float = 8.0,
        catalog: IntentCatalog | None = None,
    ) -> None:
        self.engine = engine
        self.threshold = threshold
        self.timeout = timeout
        self.catalog = catalog or default_catalog()
        self.tool = classify_intent_declaration(self.catalog)
        self._prompt = system_prompt(self.catalog)

    async def start(self) -> None:
        """Start the engine (idempotent: an agent sharing it may have started it already).

        The tier does not own the engine, so ``aclose`` leaves it open.
        """
        if self.engine is not None:
            await self.engine.start(MonotonicClock())

    async def aclose(self) -> None:
        return None

    async def classify(self, text: str) -> TierAnswer | None:
        if self.engine is None:
            raise TierUnavailable("no LLM configured")
        messages = [ChatMessage(role="system", content=self._prompt), ChatMessage(role="user", content=text)]
        call: ToolCallRequest | None = None
        said: list[str] = []
        try:
            async with asyncio.timeout(self.timeout):
                stream = self.engine.stream(messages, tools=[self.tool], tool_choice="required")
                async with contextlib.aclosing(stream) as events:
                    async for event in events:
                        if (
                            isinstance(event, ToolCallRequest)
                            and event.name == FUNCTION_NAME
                            and call is None
                        ):
                            call = event
                        elif isinstance(event, TextDelta):
                            said.append(event.text)
        except TimeoutError as exc:
            raise TierUnavailable(f"LLM gave no answer within {self.timeout}s") from exc
        except Exception as exc:  # provider SDK errors vary; any of them only skips the tier
            log.warning("LLM intent tier failed: %s: %s", type(exc).__name__, exc)
            raise TierUnavailable(f"LLM failed: {type(exc).__name__}: {exc}") from exc
        if call is None:
            raise TierUnavailable(f"LLM did not call {FUNCTION_NAME} (said {''.join(said)[:80]!r})")
        return self._answer(call)

    def _answer(self, call: ToolCallRequest) -> TierAnswer:
        if call.parse_error:
            raise TierUnavailable(f"LLM sent unparsable arguments: {call.parse_error}")
        intent = call.arguments.get("intent")
        if intent not in self.catalog.names:
            raise TierUnavailable(f"LLM chose an unknown intent {intent!r}")
        raw_conf = call.arguments.get("confidence", _DEFAULT_CONFIDENCE)
        try:
            confidence = min(1.0, max(0.0, float(raw_conf)))
        except (TypeError, ValueError):
            confidence = _DEFAULT_CONFIDENCE
        return TierAnswer(intent=str(intent), confidence=confidence)
