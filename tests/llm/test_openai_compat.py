"""OpenAICompatEngine through the real openai SDK against the fake server over a real socket."""

from __future__ import annotations

import email.utils
import json
import socket
import time

import openai
import pytest

from voiceflow.services.llm.engine import ChatMessage, Done, LLMEvent, TextDelta, ToolCallRequest
from voiceflow.services.llm.errors import (
    LLMAuthError,
    LLMConnectionError,
    LLMError,
    LLMProviderError,
    LLMRateLimitError,
    LLMStatusError,
    LLMTimeoutError,
)
from voiceflow.services.llm.openai import OpenAICompatEngine, retry_after
from voiceflow.services.llm.tools import ToolSpec
from voiceflow.testing.fakes.openai_server import (
    ErrorReply,
    FakeOpenAIServer,
    FakeToolCall,
    HangReply,
    TextReply,
    ToolCallsReply,
    serve_in_thread,
)

ORDER_PARAMETERS = {
    "type": "object",
    "properties": {"order_id": {"type": "string"}},
    "required": ["order_id"],
}
ORDER_TOOL = ToolSpec("check_order_status", "Look up an order", ORDER_PARAMETERS)
#: what OpenAI's chat completions take for ORDER_TOOL
ORDER_TOOL_WIRE = {
    "type": "function",
    "function": {
        "name": "check_order_status",
        "description": "Look up an order",
        "parameters": ORDER_PARAMETERS,
    },
}


async def collect(engine: OpenAICompatEngine, messages: list[ChatMessage], **kw: object) -> list[LLMEvent]:
    return [ev async for ev in engine.stream(messages, **kw)]  # type: ignore[arg-type]


USER = [ChatMessage(role="system", content="You are helpful."), ChatMessage(role="user", content="hi")]


async def test_plain_text_streams_as_deltas(fake: FakeOpenAIServer, engine: OpenAICompatEngine) -> None:
    fake.script(TextReply(chunks=["Hel", "lo the", "re!"]))
    events = await collect(engine, USER)
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Hel", "lo the", "re!"]
    done = events[-1]
    assert isinstance(done, Done)
    assert done.finish_reason == "stop"
    assert done.ttft_ms is not None and done.ttft_ms >= 0
    assert done.usage["completion_tokens"] >= 1
    body = fake.bodies[0]
    assert body["model"] == "fake-model"
    assert body["stream"] is True
    assert body["messages"] == [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": "hi"},
    ]
    assert "tools" not in body and "tool_choice" not in body
    assert fake.requests[0].headers["Authorization"] == "Bearer sk-test"


async def test_ttft_uses_injected_clock(fake: FakeOpenAIServer) -> None:
    ticks = iter([10.0, 10.25, 99.0])
    eng = OpenAICompatEngine("m", base_url=fake.base_url, clock=lambda: next(ticks))
    fake.script(TextReply(text="hello world"))
    try:
        events = await collect(eng, USER)
    finally:
        await eng.aclose()
    done = events[-1]
    assert isinstance(done, Done) and done.ttft_ms == pytest.approx(250.0)


async def test_streamed_tool_call_fragments_assembled(
    fake: FakeOpenAIServer, engine: OpenAICompatEngine
) -> None:
    args = {"order_id": "ORD-12345", "note": "left at the door, please"}
    fake.script(ToolCallsReply(calls=[FakeToolCall("check_order_status", args, id="call_abc", fragments=7)]))
    events = await collect(engine, USER, tools=[ORDER_TOOL], tool_choice="auto")
    calls = [e for e in events if isinstance(e, ToolCallRequest)]
    assert calls == [
        ToolCallRequest(
            id="call_abc", name="check_order_status", arguments=args, raw_arguments=json.dumps(args)
        )
    ]
    assert isinstance(events[-1], Done) and events[-1].finish_reason == "tool_calls"
    assert events[-1].ttft_ms is not None
    body = fake.bodies[0]
    assert body["tools"] == [ORDER_TOOL_WIRE]
    assert body["tool_choice"] == "auto"


@pytest.mark.parametrize("interleave", [False, True])
async def test_parallel_tool_calls(
    fake: FakeOpenAIServer, engine: OpenAICompatEngine, interleave: bool
) -> None:
    fake.script(
        ToolCallsReply(
            content="Let me check both.",
            calls=[
                FakeToolCall("check_order_status", {"order_id": "A1"}, id="c1", fragments=4),
                FakeToolCall("get_business_hours", {"department": "sales"}, id="c2", fragments=5),
                FakeToolCall("end_call", {}, id="c3"),
            ],
            interleave=interleave,
        )
    )
    events = await collect(engine, USER, tools=[ORDER_TOOL])
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert text == "Let me check both."
    calls = [e for e in events if isinstance(e, ToolCallRequest)]
    assert [(c.id, c.name, c.arguments) for c in calls] == [
        ("c1", "check_order_status", {"order_id": "A1"}),
        ("c2", "get_business_hours", {"department": "sales"}),
        ("c3", "end_call", {}),
    ]
    assert all(c.parse_error is None for c in calls)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [('{"order_id": "A1"', "invalid JSON"), ('["A1"]', "JSON object")],
)
async def test_malformed_tool_arguments_give_parse_error(
    fake: FakeOpenAIServer, engine: OpenAICompatEngine, raw: str, reason: str
) -> None:
    fake.script(ToolCallsReply(calls=[FakeToolCall("check_order_status", raw, id="bad1", fragments=3)]))
    events = await collect(engine, USER, tools=[ORDER_TOOL])
    (call,) = [e for e in events if isinstance(e, ToolCallRequest)]
    assert call.id == "bad1" and call.arguments == {}
    assert call.raw_arguments == raw
    assert call.parse_error is not None and reason in call.parse_error


async def test_history_with_tool_messages_and_system_override(
    fake: FakeOpenAIServer, engine: OpenAICompatEngine
) -> None:
    fake.script(TextReply(text="It shipped."))
    history = [
        ChatMessage(role="system", content="original system"),
        ChatMessage(role="user", content="where is A1?"),
        ChatMessage(
            role="assistant",
            content=None,
            tool_calls=[ToolCallRequest(id="c1", name="check_order_status", arguments={"order_id": "A1"})],
        ),
        ChatMessage(
            role="tool", tool_call_id="c1", name="check_order_status", content='{"status":"shipped"}'
        ),
        ChatMessage(role="system", content="summary: caller asked about A1"),
    ]
    await collect(engine, history, tools=[ORDER_TOOL], tool_choice="none", system_override="be brief")
    body = fake.bodies[0]
    assert body["tool_choice"] == "none"
    assert body["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "where is A1?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "check_order_status", "arguments": '{"order_id":"A1"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": '{"status":"shipped"}'},
        {"role": "system", "content": "summary: caller asked about A1"},
    ]


async def test_malformed_call_in_history_is_sent_verbatim(
    fake: FakeOpenAIServer, engine: OpenAICompatEngine
) -> None:
    fake.script(TextReply(text="ok"))
    bad = ToolCallRequest(id="c9", name="f", arguments={}, raw_arguments="{oops", parse_error="invalid JSON")
    history = [
        ChatMessage(role="user", content="x"),
        ChatMessage(role="assistant", tool_calls=[bad]),
        ChatMessage(role="tool", tool_call_id="c9", content='{"error":"bad arguments"}'),
    ]
    await collect(engine, history)
    assert fake.bodies[0]["messages"][1]["tool_calls"][0]["function"]["arguments"] == "{oops"


async def test_tool_choice_without_tools_is_not_sent(
    fake: FakeOpenAIServer, engine: OpenAICompatEngine
) -> None:
    fake.script(TextReply(text="ok"))
    await collect(engine, USER, tools=None, tool_choice="none")
    assert "tool_choice" not in fake.bodies[0] and "tools" not in fake.bodies[0]


@pytest.mark.parametrize(
    ("status", "kind", "retryable"),
    [
        (401, LLMAuthError, False),
        (403, LLMAuthError, False),
        (404, LLMStatusError, False),
        (429, LLMRateLimitError, True),
        (500, LLMProviderError, True),
        (503, LLMProviderError, True),
    ],
)
async def test_http_errors_become_llm_errors(
    fake: FakeOpenAIServer, engine: OpenAICompatEngine, status: int, kind: type[LLMError], retryable: bool
) -> None:
    fake.script(ErrorReply(status=status, message=f"scripted {status}"))
    with pytest.raises(kind) as info:
        await collect(engine, USER)
    assert info.value.status == status
    assert info.value.retryable is retryable
    assert f"scripted {status}" in str(info.value) and f"HTTP {status}" in str(info.value)
    assert len(fake.bodies) == 1  # no retries by default
    assert type(info.value) is kind and info.value.retry_after is None  # no Retry-After header sent


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after": "7"}, 7.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),  # the precise header wins
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after_header_forms(headers: dict[str, str], seconds: float | None) -> None:
    assert retry_after(headers) == seconds


def test_retry_after_as_an_http_date() -> None:
    when = email.utils.formatdate(time.time() + 120, usegmt=True)
    wait = retry_after({"retry-after": when})
    assert wait is not None and 100 < wait <= 121
    assert retry_after({"retry-after": email.utils.formatdate(time.time() - 60, usegmt=True)}) == 0.0


async def test_wrong_api_key_is_auth_error(fake: FakeOpenAIServer) -> None:
    fake.api_key = "sk-right"
    fake.script(TextReply(text="never"))
    eng = OpenAICompatEngine("m", base_url=fake.base_url, api_key="sk-wrong")
    try:
        with pytest.raises(LLMAuthError) as info:
            await collect(eng, USER)
    finally:
        await eng.aclose()
    assert info.value.status == 401 and info.value.code == "invalid_api_key"


async def test_error_event_inside_stream(fake: FakeOpenAIServer, engine: OpenAICompatEngine) -> None:
    fake.script(ErrorReply(status=500, message="overloaded mid-stream", in_stream=True))
    with pytest.raises(LLMError, match="overloaded mid-stream"):
        await collect(engine, USER)


async def test_dropped_stream_is_connection_error(fake: FakeOpenAIServer, engine: OpenAICompatEngine) -> None:
    fake.script(TextReply(text="one two three four five", drop_after=3))
    got: list[LLMEvent] = []
    with pytest.raises(LLMConnectionError):
        async for ev in engine.stream(USER):
            got.append(ev)
    assert not any(isinstance(e, Done) for e in got)


async def test_connection_refused() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    eng = OpenAICompatEngine("m", base_url=f"http://127.0.0.1:{port}/v1", timeout=2.0)
    try:
        with pytest.raises(LLMConnectionError) as info:
            await collect(eng, USER)
    finally:
        await eng.aclose()
    assert info.value.status is None and info.value.retryable


async def test_timeout(fake: FakeOpenAIServer) -> None:
    fake.script(HangReply())
    eng = OpenAICompatEngine("m", base_url=fake.base_url, timeout=0.3)
    try:
        with pytest.raises(LLMTimeoutError):
            await collect(eng, USER)
    finally:
        await eng.aclose()


async def test_fake_rejects_unanswered_tool_calls(fake: FakeOpenAIServer, engine: OpenAICompatEngine) -> None:
    history = [
        ChatMessage(role="user", content="x"),
        ChatMessage(role="assistant", tool_calls=[ToolCallRequest(id="c1", name="f", arguments={})]),
        ChatMessage(role="user", content="hello?"),
    ]
    with pytest.raises(LLMStatusError) as info:
        await collect(engine, history)
    assert info.value.status == 400 and "c1" in str(info.value)


async def test_non_streaming_through_sdk(fake: FakeOpenAIServer) -> None:
    """The fake also serves plain chat.completion objects (used by summarizers and benchmarks)."""
    fake.script(
        TextReply(text="plain answer"),
        ToolCallsReply(calls=[FakeToolCall("end_call", {"reason": "done"}, id="c1")]),
    )
    client = openai.AsyncOpenAI(api_key="x", base_url=fake.base_url, max_retries=0)
    try:
        first = await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "q"}])
        second = await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "q"}])
    finally:
        await client.close()
    assert first.choices[0].message.content == "plain answer"
    assert first.usage is not None and first.usage.total_tokens > 0
    call = second.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert call.id == "c1" and json.loads(call.function.arguments) == {"reason": "done"}  # type: ignore[union-attr]
    assert second.choices[0].finish_reason == "tool_calls"


async def test_rule_function_and_unscripted_default(
    fake: FakeOpenAIServer, engine: OpenAICompatEngine
) -> None:
    fake.rule = lambda body: TextReply(text=f"echo {body['messages'][-1]['content']}")
    events = await collect(engine, USER)
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "echo hi"
    fake.rule = None
    with pytest.raises(LLMStatusError, match="no scripted reply"):
        await collect(engine, USER)


def test_serve_in_thread_for_synchronous_code() -> None:
    with serve_in_thread() as server:
        server.script(TextReply(text="from a thread"))
        client = openai.OpenAI(api_key="x", base_url=server.base_url, max_retries=0)
        try:
            reply = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "q"}])
        finally:
            client.close()
    assert reply.choices[0].message.content == "from a thread"
    assert server.bodies[0]["messages"] == [{"role": "user", "content": "q"}]
