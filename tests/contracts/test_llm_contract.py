"""The LLM contract: what every LLMEngine adapter does (adapters: ``llm_adapters.LLM_ADAPTERS``).

Each adapter runs through its official SDK against its provider's local fake:

- text arrives as ``TextDelta`` events in order, then exactly one ``Done``;
- a ``ToolSpec`` reaches the provider as declared, and a call comes back with parsed arguments;
- ``system_override`` replaces the standing system prompt for that round (later notes kept);
- ``tool_choice="none"`` tells the provider not to call the tools offered;
- errors map to the ``LLMError`` family: 401/403 auth, 429 rate limit with ``retry_after``,
  5xx provider error, no answer in time a timeout;
- abandoning the stream (closing it, or cancelling the task reading it) closes the request;
- ``start`` / ``aclose`` are idempotent; a closed engine refuses to stream until started again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator

import pytest

from tests.contracts.llm_adapters import LLMAdapter, LLMHarness
from voiceflow.graphs import VirtualClock
from voiceflow.services.llm.engine import ChatMessage, Done, LLMEngine, LLMEvent, TextDelta, ToolCallRequest
from voiceflow.services.llm.errors import (
    LLMAuthError,
    LLMError,
    LLMProviderError,
    LLMRateLimitError,
    LLMStatusError,
    LLMTimeoutError,
)
from voiceflow.services.llm.tools import ToolSpec

USER = [
    ChatMessage(role="system", content="You are a call-center agent."),
    ChatMessage(role="user", content="where is my order 1001?"),
]
ORDER_TOOL = ToolSpec(
    "check_order_status",
    "Look up the status of an order.",
    {
        "type": "object",
        "properties": {"order_id": {"type": "string", "description": "The order number."}},
        "required": ["order_id"],
        "additionalProperties": False,
    },
)


async def _events(engine: LLMEngine, **kw: object) -> list[LLMEvent]:
    async with contextlib.aclosing(engine.stream(USER, **kw)) as stream:  # type: ignore[arg-type]
        return [event async for event in stream]


async def test_text_streams_as_deltas_then_one_done(llm: LLMHarness) -> None:
    llm.backend.reply_text(["Your order", " shipped", " on Monday."])
    events = await _events(llm.engine)
    deltas = [e for e in events if isinstance(e, TextDelta)]
    assert "".join(d.text for d in deltas) == "Your order shipped on Monday."
    assert len(deltas) >= 2, "text must stream, not arrive in one piece"
    assert [type(e) for e in events] == [TextDelta] * len(deltas) + [Done]
    done = events[-1]
    assert isinstance(done, Done) and done.ttft_ms is not None and done.ttft_ms >= 0


async def test_a_tool_spec_is_declared_and_the_call_comes_back_parsed(llm: LLMHarness) -> None:
    llm.backend.reply_tool_call("check_order_status", {"order_id": "1001"})
    events = await _events(llm.engine, tools=[ORDER_TOOL], tool_choice="auto")
    assert llm.backend.sent_tools() == [(ORDER_TOOL.name, ORDER_TOOL.description, ORDER_TOOL.parameters)]
    assert not llm.backend.sent_forbids_tools()
    calls = [e for e in events if isinstance(e, ToolCallRequest)]
    assert len(calls) == 1
    call = calls[0]
    assert call.name == "check_order_status" and call.arguments == {"order_id": "1001"}
    assert call.parse_error is None and call.id
    assert isinstance(events[-1], Done) and sum(isinstance(e, Done) for e in events) == 1


async def test_tool_choice_none_forbids_the_offered_tools(llm: LLMHarness) -> None:
    llm.backend.reply_text(["Sure", ", one moment."])
    events = await _events(llm.engine, tools=[ORDER_TOOL], tool_choice="none")
    assert llm.backend.sent_forbids_tools()
    assert not any(isinstance(e, ToolCallRequest) for e in events)
    assert isinstance(events[-1], Done)


async def test_system_override_replaces_the_standing_prompt(llm: LLMHarness) -> None:
    llm.backend.reply_text(["Fine", "."])
    await _events(llm.engine)
    assert llm.backend.sent_system() == "You are a call-center agent."
    llm.backend.reply_text(["Grounded", "."])
    note = ChatMessage(role="system", content="Earlier: the caller asked about order 1001.")
    messages = [*USER[:1], note, *USER[1:]]
    async with contextlib.aclosing(
        llm.engine.stream(messages, system_override="Answer from the passages.")
    ) as s:
        assert isinstance([e async for e in s][-1], Done)
    sent = llm.backend.sent_system() or ""
    assert sent.startswith("Answer from the passages.") and "call-center" not in sent
    assert "order 1001" in sent


@pytest.mark.parametrize(
    ("status", "retry_after", "kind", "retryable"),
    [
        (401, None, LLMAuthError, False),
        (403, None, LLMAuthError, False),
        (429, 7.0, LLMRateLimitError, True),
        (429, None, LLMRateLimitError, True),
        (500, None, LLMProviderError, True),
        (503, 2.0, LLMProviderError, True),
    ],
)
async def test_http_errors_map_to_the_llm_error_family(
    llm: LLMHarness, status: int, retry_after: float | None, kind: type[LLMStatusError], retryable: bool
) -> None:
    llm.backend.reply_error(status, retry_after=retry_after)
    with pytest.raises(LLMStatusError) as info:
        await _events(llm.engine)
    err = info.value
    assert type(err) is kind
    assert err.status == status and err.retryable is retryable
    assert err.retry_after == retry_after


async def test_no_answer_in_time_is_a_timeout_and_closes_the_request(llm_adapter: LLMAdapter) -> None:
    async with llm_adapter.open(timeout=0.3) as h:
        await h.engine.start(VirtualClock())
        h.backend.reply_hang()
        with pytest.raises(LLMTimeoutError) as info:
            await _events(h.engine)
        assert info.value.retryable
        assert await h.backend.closed_by_client()


async def test_closing_the_stream_mid_reply_closes_the_request(llm: LLMHarness) -> None:
    before = set(asyncio.all_tasks())
    llm.backend.reply_held(["Let me", " look", " that up."], hold_after=1)
    stream = llm.engine.stream(USER)
    first = await anext(stream)
    assert isinstance(first, TextDelta) and first.text == "Let me"
    await stream.aclose()
    assert await llm.backend.closed_by_client(within=CLOSE_BOUND_S)  # the engine's timeout is 5 s
    for _ in range(5):
        await asyncio.sleep(0)
    left = [t for t in asyncio.all_tasks() - before if not t.done() and t is not asyncio.current_task()]
    assert not left, f"tasks left behind: {[t.get_name() for t in left]}"


#: the engine's own request timeout in the cancellation tests, and the bound the close must beat:
#: a close that only comes from the client timing out cannot pass
PATIENT_CLIENT_S = 60.0
CLOSE_BOUND_S = 1.0


@pytest.mark.parametrize("held", ["before-the-first-byte", "mid-reply"])
async def test_cancelling_the_reader_closes_the_request(llm_adapter: LLMAdapter, held: str) -> None:
    """A barge-in cancels the task reading the stream while it waits: the provider sees the
    connection closed at once, long before the client's own timeout would have closed it."""
    async with llm_adapter.open(timeout=PATIENT_CLIENT_S) as h:
        await h.engine.start(VirtualClock())
        got: list[LLMEvent] = []
        first = asyncio.Event()
        if held == "mid-reply":
            h.backend.reply_held(["Let me", " look", " that up."], hold_after=1)
        else:
            h.backend.reply_hang()  # the request is in, not one byte of the answer

        async def read() -> None:
            stream: AsyncGenerator[LLMEvent, None] = h.engine.stream(USER)
            async with contextlib.aclosing(stream) as events:
                async for event in events:
                    got.append(event)
                    first.set()

        reader = asyncio.create_task(read())
        async with asyncio.timeout(5):
            await (first.wait() if held == "mid-reply" else h.backend.received())
        reader.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reader
        assert await h.backend.closed_by_client(within=CLOSE_BOUND_S)
        assert [type(e) for e in got] == ([TextDelta] if held == "mid-reply" else [])


async def test_start_and_aclose_are_idempotent_and_a_closed_engine_refuses_to_stream(
    llm_adapter: LLMAdapter,
) -> None:
    clock = VirtualClock()
    async with llm_adapter.open() as h:
        await h.engine.aclose()  # closing a never-started engine is harmless
        await h.engine.start(clock)
        await h.engine.start(clock)
        h.backend.reply_text(["one", " two"])
        assert isinstance((await _events(h.engine))[-1], Done)
        await h.engine.aclose()
        await h.engine.aclose()
        with pytest.raises(LLMError):
            await _events(h.engine)
        await h.engine.start(clock)  # started again, it works again
        h.backend.reply_text(["three", " four"])
        assert isinstance((await _events(h.engine))[-1], Done)
