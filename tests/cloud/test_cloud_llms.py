"""Anthropic and Gemini specifics through their SDKs against the local fakes (the shared
behaviour is the LLM contract): the conversation shape each provider demands (Gemini's
alternating roles, Anthropic's tool_result blocks), errors inside a started stream, a socket
cut mid-stream, a refused key, the deterministic model, injected latency, and the agent's
retry with backoff that never repeats a tool that ran."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from typing import Any

import aiohttp
import pytest

from voiceflow.core.clock import MonotonicClock
from voiceflow.services.llm.anthropic import AnthropicEngine
from voiceflow.services.llm.engine import ChatMessage, Done, LLMEngine, LLMEvent, TextDelta, ToolCallRequest
from voiceflow.services.llm.errors import (
    LLMAuthError,
    LLMConnectionError,
    LLMError,
    LLMProviderError,
    LLMRateLimitError,
)
from voiceflow.services.llm.gemini import GeminiEngine
from voiceflow.services.llm.tools import ToolSpec
from voiceflow.testing.fakes.anthropic_server import FakeAnthropicServer
from voiceflow.testing.fakes.gemini_server import ALTERNATE, FakeGeminiServer
from voiceflow.testing.fakes.llm_server import Fail, Say

ORDER = ToolSpec(
    "check_order_status",
    "Look up an order.",
    {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]},
)
HUMAN = ToolSpec(
    "transfer_to_human",
    "Queue the caller for a human agent.",
    {
        "type": "object",
        "properties": {"department": {"type": "string", "enum": ["customer_service", "billing"]}},
        "required": ["department"],
    },
)
CALL = ToolCallRequest(id="call_1", name="check_order_status", arguments={"order_id": "1002"})
CALL2 = ToolCallRequest(id="call_2", name="transfer_to_human", arguments={"department": "billing"})
#: a tool round answered, then the caller speaks twice in a row (a failed round in between)
HISTORY = [
    ChatMessage(role="system", content="You are an agent."),
    ChatMessage(role="user", content="where is order 1002"),
    ChatMessage(role="assistant", content="Let me check.", tool_calls=[CALL, CALL2]),
    ChatMessage(
        role="tool", tool_call_id="call_1", name="check_order_status", content='{"status": "shipped"}'
    ),
    ChatMessage(role="tool", tool_call_id="call_2", name="transfer_to_human", content='{"position": 2}'),
    ChatMessage(role="user", content="thanks"),
    ChatMessage(role="user", content="and my refund?"),
]


async def _collect(engine: LLMEngine, messages: Sequence[ChatMessage], **kw: Any) -> list[LLMEvent]:
    async with contextlib.aclosing(engine.stream(messages, **kw)) as stream:
        return [e async for e in stream]


async def _gemini(fake: FakeGeminiServer, key: str = "gm") -> GeminiEngine:
    engine = GeminiEngine("gemini-fake", api_key=key, base_url=fake.base_url, timeout=5.0)
    await engine.start(MonotonicClock())
    return engine


async def _anthropic(fake: FakeAnthropicServer, key: str = "sk") -> AnthropicEngine:
    engine = AnthropicEngine("claude-fake", api_key=key, base_url=fake.base_url, timeout=5.0)
    await engine.start(MonotonicClock())
    return engine


async def test_gemini_merges_same_role_turns_so_the_fake_accepts_them() -> None:
    async with FakeGeminiServer(api_key="gm") as fake:
        engine = await _gemini(fake)
        events = await _collect(engine, HISTORY)
        await engine.aclose()
        body = fake.bodies[-1]
    assert isinstance(events[-1], Done)
    contents = body["contents"]
    assert [c["role"] for c in contents] == ["user", "model", "user"]
    last = contents[-1]["parts"]
    responses = [
        p["function_response"] if "function_response" in p else p.get("functionResponse") for p in last[:2]
    ]
    assert [r["name"] for r in responses] == ["check_order_status", "transfer_to_human"]
    assert responses[0]["response"] == {"status": "shipped"}
    assert [p.get("text") for p in last[2:]] == ["thanks", "and my refund?"]
    assert body["systemInstruction"]["parts"][0]["text"] == "You are an agent."


async def test_the_gemini_fake_rejects_what_gemini_rejects() -> None:
    """Unmerged turns go straight to the fake: it answers 400 INVALID_ARGUMENT as Gemini does."""
    unmerged = {
        "contents": [
            {"role": "user", "parts": [{"text": "hi"}]},
            {"role": "user", "parts": [{"text": "hello?"}]},
        ]
    }
    async with FakeGeminiServer(api_key="gm") as fake, aiohttp.ClientSession() as http:
        url = f"{fake.base_url}/v1beta/models/gemini-fake:streamGenerateContent?alt=sse"
        async with http.post(url, json=unmerged, headers={"x-goog-api-key": "gm"}) as response:
            error = (await response.json())["error"]
    assert response.status == 400 and error["status"] == "INVALID_ARGUMENT" and error["message"] == ALTERNATE


async def test_anthropic_sends_system_on_top_and_tool_results_as_blocks() -> None:
    async with FakeAnthropicServer(api_key="sk") as fake:
        engine = await _anthropic(fake)
        events = await _collect(engine, HISTORY, tools=[ORDER, HUMAN], tool_choice="auto")
        await engine.aclose()
        body = fake.bodies[-1]
    assert isinstance(events[-1], Done)
    assert body["system"] == "You are an agent." and body["max_tokens"] == 1024
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assistant = body["messages"][1]["content"]
    assert [b["type"] for b in assistant] == ["text", "tool_use", "tool_use"]
    assert assistant[1] == {
        "type": "tool_use",
        "id": "call_1",
        "name": "check_order_status",
        "input": {"order_id": "1002"},
    }
    user = body["messages"][2]["content"]
    assert [b["type"] for b in user] == ["tool_result", "tool_result", "text", "text"]
    assert user[0] == {"type": "tool_result", "tool_use_id": "call_1", "content": '{"status": "shipped"}'}
    assert body["tools"][0] == {
        "name": ORDER.name,
        "description": ORDER.description,
        "input_schema": ORDER.parameters,
    }
    assert body["tool_choice"] == {"type": "auto"}


@pytest.mark.parametrize("provider", ["anthropic", "gemini"])
async def test_the_fakes_model_calls_the_right_tool_then_answers_from_its_result(provider: str) -> None:
    fake: FakeAnthropicServer | FakeGeminiServer
    fake = FakeAnthropicServer(api_key="k") if provider == "anthropic" else FakeGeminiServer(api_key="k")
    async with fake:
        engine = await (
            _anthropic(fake, "k") if isinstance(fake, FakeAnthropicServer) else _gemini(fake, "k")
        )
        ask = [ChatMessage(role="user", content="can I talk to a person about my billing")]
        events = await _collect(engine, ask, tools=[ORDER, HUMAN], tool_choice="auto")
        (call,) = [e for e in events if isinstance(e, ToolCallRequest)]
        assert call.name == "transfer_to_human" and call.arguments == {"department": "billing"}
        answered = [
            *ask,
            ChatMessage(role="assistant", tool_calls=[call]),
            ChatMessage(
                role="tool",
                tool_call_id=call.id,
                name=call.name,
                content=json.dumps({"message": "You are number 2 in the queue"}),
            ),
        ]
        events = await _collect(engine, answered, tools=[ORDER, HUMAN], tool_choice="auto")
        await engine.aclose()
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert "number 2 in the queue" in text and not any(isinstance(e, ToolCallRequest) for e in events)


async def test_anthropic_overloaded_529_and_an_error_event_mid_stream() -> None:
    async with FakeAnthropicServer(api_key="sk") as fake:
        engine = await _anthropic(fake)
        fake.script(Fail(status=529, message="Overloaded"))
        with pytest.raises(LLMProviderError) as info:
            await _collect(engine, HISTORY[:2])
        assert info.value.status == 529 and info.value.retryable and info.value.code == "overloaded_error"
        fake.script(Fail(status=529, message="Overloaded", in_stream=True))
        with pytest.raises(LLMProviderError) as info:
            await _collect(engine, HISTORY[:2])
        assert info.value.status == 529 and "stream error (overloaded_error)" in str(info.value)
        await engine.aclose()


@pytest.mark.parametrize(("status", "kind"), [(429, LLMRateLimitError), (503, LLMProviderError)])
async def test_gemini_errors_inside_a_started_stream(status: int, kind: type[Exception]) -> None:
    async with FakeGeminiServer(api_key="gm") as fake:
        engine = await _gemini(fake)
        fake.script(Fail(status=status, message="try later", in_stream=True))
        with pytest.raises(kind) as info:
            await _collect(engine, HISTORY[:2])
        await engine.aclose()
    assert getattr(info.value, "status", None) == status and "try later" in str(info.value)


@pytest.mark.parametrize("provider", ["anthropic", "gemini"])
async def test_a_socket_cut_mid_stream_is_a_retryable_connection_error(provider: str) -> None:
    fake: FakeAnthropicServer | FakeGeminiServer
    fake = FakeAnthropicServer(api_key="k") if provider == "anthropic" else FakeGeminiServer(api_key="k")
    async with fake:
        engine = await (
            _anthropic(fake, "k") if isinstance(fake, FakeAnthropicServer) else _gemini(fake, "k")
        )
        fake.script(Say(chunks=["one", " two", " three", " four"], drop_after=2))
        got: list[LLMEvent] = []
        with pytest.raises(LLMConnectionError) as info:
            async with contextlib.aclosing(engine.stream(HISTORY[:2])) as stream:
                async for event in stream:
                    got.append(event)
        await engine.aclose()
    assert info.value.retryable and fake.requests[-1].dropped_by_server
    assert not any(isinstance(e, Done) for e in got)


async def test_gemini_refused_key_is_an_auth_error() -> None:
    async with FakeGeminiServer(api_key="right") as fake:
        engine = await _gemini(fake, "wrong")
        with pytest.raises(LLMAuthError) as info:
            await _collect(engine, HISTORY[:2])
        await engine.aclose()
    assert info.value.status == 400 and "API key not valid" in str(info.value) and not info.value.retryable


async def test_injected_latency_shows_in_time_to_first_token() -> None:
    async with FakeAnthropicServer(api_key="sk") as fake:
        engine = await _anthropic(fake)
        fake.script(Say(text="hello there", delay_s=0.15))
        done = (await _collect(engine, HISTORY[:2]))[-1]
        await engine.aclose()
    assert isinstance(done, Done) and done.ttft_ms is not None and done.ttft_ms >= 150


MALFORMED = {
    "anthropic": "event: content_block_delta\ndata: {this is not json\n\n",
    "gemini": "data: {this is not json\r\n\r\n",
}
UNKNOWN = {
    "anthropic": 'event: mystery\ndata: {"type": "mystery", "x": 1}\n\n',
    "gemini": 'data: {"mystery": 1}\r\n\r\n',
}


@pytest.mark.parametrize("provider", ["anthropic", "gemini"])
async def test_a_malformed_event_is_a_precise_error_and_an_unknown_one_is_ignored(provider: str) -> None:
    fake: FakeAnthropicServer | FakeGeminiServer
    fake = FakeAnthropicServer(api_key="k") if provider == "anthropic" else FakeGeminiServer(api_key="k")
    after = 4 if provider == "anthropic" else 1  # inside the text: after its first piece
    async with fake:
        engine = await (
            _anthropic(fake, "k") if isinstance(fake, FakeAnthropicServer) else _gemini(fake, "k")
        )
        fake.script(Say(chunks=["one", " two"], inject_after=after, inject=MALFORMED[provider]))
        with pytest.raises(LLMError) as info:
            await _collect(engine, HISTORY[:2])
        assert "malformed stream" in str(info.value) and info.value.code == "malformed_event"
        fake.script(Say(chunks=["one", " two"], inject_after=after, inject=UNKNOWN[provider]))
        events = await _collect(engine, HISTORY[:2])
        await engine.aclose()
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "one two"
    assert isinstance(events[-1], Done)
