"""Tier 4: function calling through the real OpenAI-compatible engine and the local OpenAI fake."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.nlu.nlu_helpers import accuracy
from voiceflow.processors.nlu.intents import default_catalog
from voiceflow.processors.nlu.llm_tier import LLMTier
from voiceflow.processors.nlu.result import TierUnavailable
from voiceflow.services.llm.openai import OpenAICompatEngine
from voiceflow.testing.fakes.openai_server import (
    ErrorReply,
    FakeOpenAIServer,
    FakeToolCall,
    HangReply,
    TextReply,
    ToolCallsReply,
)
from voiceflow.testing.fakes.rasa import classify_intent_rule


@pytest.fixture
async def openai_fake() -> AsyncIterator[FakeOpenAIServer]:
    async with FakeOpenAIServer(rule=classify_intent_rule()) as fake:
        yield fake


@pytest.fixture
async def engine(openai_fake: FakeOpenAIServer) -> AsyncIterator[OpenAICompatEngine]:
    eng = OpenAICompatEngine("fake-model", base_url=openai_fake.base_url, timeout=5.0)
    yield eng
    await eng.aclose()


def _call(intent: object, confidence: object = 0.9) -> ToolCallsReply:
    return ToolCallsReply(
        calls=[FakeToolCall("classify_intent", {"intent": intent, "confidence": confidence})]
    )


async def test_function_call_decides_and_the_request_is_a_forced_tool_call(
    engine: OpenAICompatEngine, openai_fake: FakeOpenAIServer
) -> None:
    tier = LLMTier(engine)
    answer = await tier.classify("I need to cancel my appointment please")
    assert answer is not None
    assert answer.intent == "cancel_appointment"
    assert answer.confidence >= tier.threshold
    body = openai_fake.bodies[-1]
    assert body["tool_choice"] == "required"
    function = body["tools"][0]["function"]
    assert function["name"] == "classify_intent"
    assert function["parameters"]["properties"]["intent"]["enum"] == list(default_catalog().names)
    assert body["messages"][0]["role"] == "system" and "track_delivery" in body["messages"][0]["content"]
    assert body["messages"][-1] == {"role": "user", "content": "I need to cancel my appointment please"}


async def test_scripted_confidence_is_clamped(
    engine: OpenAICompatEngine, openai_fake: FakeOpenAIServer
) -> None:
    openai_fake.script(_call("feedback", 7), _call("feedback", "very"))
    tier = LLMTier(engine)
    first = await tier.classify("five stars")
    second = await tier.classify("five stars")
    assert first is not None and first.confidence == 1.0
    assert second is not None and second.confidence == 0.8  # not a number: the default


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (_call("order_pizza"), "unknown intent 'order_pizza'"),
        (TextReply(text="I think it's a greeting"), "did not call classify_intent"),
        (
            ToolCallsReply(calls=[FakeToolCall("classify_intent", '{"intent": "greet')]),
            "unparsable arguments",
        ),
        (ErrorReply(status=500), "LLM failed"),
        (ErrorReply(status=429), "LLM failed"),
    ],
)
async def test_bad_replies_skip_the_tier(
    engine: OpenAICompatEngine, openai_fake: FakeOpenAIServer, reply: object, reason: str
) -> None:
    openai_fake.script(reply)  # type: ignore[arg-type]
    with pytest.raises(TierUnavailable, match=reason):
        await LLMTier(engine).classify("hello")


async def test_hanging_llm_times_out(engine: OpenAICompatEngine, openai_fake: FakeOpenAIServer) -> None:
    openai_fake.script(HangReply())
    with pytest.raises(TierUnavailable, match=r"no answer within 0\.3s"):
        await LLMTier(engine, timeout=0.3).classify("hello")


async def test_no_engine_is_skipped() -> None:
    with pytest.raises(TierUnavailable, match="no LLM configured"):
        await LLMTier(None).classify("hello")


async def test_accuracy_through_the_fake_round_trip(engine: OpenAICompatEngine) -> None:
    """The fake's "LLM" is a keyword model: this measures the wire path, not a real model (79%)."""
    tier = LLMTier(engine)

    async def predict(text: str) -> str | None:
        answer = await tier.classify(text)
        return answer.intent if answer else None

    acc, misses = await accuracy(predict)
    assert acc >= 0.7, misses
