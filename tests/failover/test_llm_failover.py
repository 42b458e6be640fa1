"""LLM failover through the real OpenAI SDK against two fake providers: errors before the first token
retry the turn on the next engine; a drop after tokens continues from what was said, never twice."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from voiceflow.graphs import VirtualClock
from voiceflow.services.breaker import BreakerState
from voiceflow.services.failover.llm import CONTINUE_NOTE, FailoverLLM
from voiceflow.services.llm.engine import ChatMessage, Done, LLMEvent, TextDelta, ToolCallRequest
from voiceflow.services.llm.errors import LLMError
from voiceflow.services.llm.openai import OpenAICompatEngine
from voiceflow.services.llm.tools import ToolSpec
from voiceflow.testing.fakes.openai_server import (
    ErrorReply,
    FakeOpenAIServer,
    FakeToolCall,
    HangReply,
    TextReply,
    ToolCallsReply,
)

ASK = [ChatMessage("system", "You are a helpful agent."), ChatMessage("user", "Where is my order?")]


@pytest.fixture
async def pair() -> AsyncIterator[tuple[FakeOpenAIServer, FakeOpenAIServer, FailoverLLM, VirtualClock]]:
    clock = VirtualClock()
    async with FakeOpenAIServer() as first, FakeOpenAIServer() as second:
        llm = FailoverLLM(
            [
                OpenAICompatEngine("primary", base_url=first.base_url, timeout=2.0),
                OpenAICompatEngine("secondary", base_url=second.base_url, timeout=2.0),
            ]
        )
        llm.engines[0].name = "primary"
        llm.engines[1].name = "secondary"
        await llm.start(clock)
        try:
            yield first, second, llm, clock
        finally:
            await llm.aclose()


async def _turn(llm: FailoverLLM, **kw: object) -> list[LLMEvent]:
    return [e async for e in llm.stream(ASK, **kw)]  # type: ignore[arg-type]


def _text(events: list[LLMEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


@pytest.mark.parametrize(
    "failure",
    [ErrorReply(status=503, message="overloaded"), ErrorReply(status=401, message="bad key"), HangReply()],
    ids=["503", "401", "too-slow"],
)
async def test_failing_before_the_first_token_retries_the_turn_on_the_next_engine(
    pair: tuple[FakeOpenAIServer, FakeOpenAIServer, FailoverLLM, VirtualClock], failure: object
) -> None:
    first, second, llm, _ = pair
    first.script(failure)  # type: ignore[arg-type]
    second.script(TextReply(text="It ships on Monday."))
    events = await _turn(llm)
    assert _text(events) == "It ships on Monday." and isinstance(events[-1], Done)
    assert llm.last_engines == ["primary", "secondary"]
    assert second.bodies[0]["messages"] == first.bodies[0]["messages"]  # the same turn, whole
    assert llm.breakers[0].state is BreakerState.OPEN


async def test_dying_after_tokens_the_next_engine_continues_from_what_was_said(
    pair: tuple[FakeOpenAIServer, FakeOpenAIServer, FailoverLLM, VirtualClock],
) -> None:
    first, second, llm, _ = pair
    first.script(TextReply(text="Your order shipped on Monday and", drop_after=4))
    second.script(TextReply(text=" should arrive by Thursday."))
    events = await _turn(llm)
    said = _text(events)
    sent_before = said[: -len(" should arrive by Thursday.")]
    assert said.endswith(" should arrive by Thursday.") and sent_before
    assert "Your order shipped on Monday and".startswith(sent_before)  # nothing said twice
    continuation = second.bodies[0]["messages"]
    assert continuation[-2] == {"role": "assistant", "content": sent_before}
    assert continuation[-1]["content"] == CONTINUE_NOTE


async def test_a_drop_after_a_complete_tool_call_ends_the_round_without_repeating_the_call(
    pair: tuple[FakeOpenAIServer, FakeOpenAIServer, FailoverLLM, VirtualClock],
) -> None:
    first, second, llm, _ = pair
    first.script(
        ToolCallsReply(calls=[FakeToolCall("check_order_status", {"order_id": "1002"})], drop_after=99)
    )
    tool = ToolSpec(name="check_order_status", description="order status", parameters={"type": "object"})
    events = await _turn(llm, tools=[tool])
    calls = [e for e in events if isinstance(e, ToolCallRequest)]
    assert len(calls) == 1 and not second.requests


async def test_every_engine_down_raises_so_the_offline_policy_answers(
    pair: tuple[FakeOpenAIServer, FakeOpenAIServer, FailoverLLM, VirtualClock],
) -> None:
    first, second, llm, clock = pair
    first.script(ErrorReply(status=500))
    second.script(ErrorReply(status=429, message="slow down"))
    with pytest.raises(LLMError, match="every LLM engine failed"):
        await _turn(llm)
    # both breakers open: the next turn skips the first and asks only the last (never refused outright)
    second.script(ErrorReply(status=503))
    with pytest.raises(LLMError, match="breaker open"):
        await _turn(llm)
    assert len(first.requests) == 1 and len(second.requests) == 2
    await clock.advance(30.0)
    first.script(TextReply(text="Back again."))
    assert _text(await _turn(llm)) == "Back again."
