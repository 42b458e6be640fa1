"""Anthropic's Messages API (streaming) through the official ``anthropic`` SDK.

The conversation goes over as Anthropic wants it: the system prompt as the top-level
``system`` field, tools as ``{"name", "description", "input_schema"}``, the model's
calls as ``tool_use`` blocks and our answers as ``tool_result`` blocks in the next user
message. Consecutive same-role messages are merged into one (parallel tool results
must arrive together, right after the assistant's ``tool_use`` blocks). The SSE stream
(``message_start`` … ``content_block_delta`` … ``message_stop``) becomes the neutral
events: text deltas as they come, each tool call once its ``input_json_delta`` pieces
are complete, one ``Done`` with ``stop_reason``, usage and time to first token.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Callable, Sequence
from typing import Any

import anthropic
from anthropic import AsyncAnthropic

from voiceflow.core.clock import Clock
from voiceflow.services.llm.adapter_kit import FirstToken, parse_arguments, retry_after, split_system
from voiceflow.services.llm.engine import ChatMessage, Done, LLMEvent, TextDelta, ToolCallRequest, ToolChoice
from voiceflow.services.llm.errors import (
    LLMConnectionError,
    LLMError,
    LLMTimeoutError,
    status_error,
)
from voiceflow.services.llm.tools import ToolSpec

PROVIDER = "anthropic"
DEFAULT_MODEL = "claude-3-5-haiku-latest"

#: error ``type`` of an error event inside a stream → the HTTP status it stands for
_STREAM_ERROR_STATUS = {
    "overloaded_error": 529,
    "api_error": 500,
    "rate_limit_error": 429,
    "authentication_error": 401,
    "permission_error": 403,
    "invalid_request_error": 400,
}


def anthropic_tool(spec: ToolSpec) -> dict[str, Any]:
    return {"name": spec.name, "description": spec.description, "input_schema": spec.parameters}


def _blocks(msg: ChatMessage) -> list[dict[str, Any]]:
    if msg.role == "tool":
        return [{"type": "tool_result", "tool_use_id": msg.tool_call_id or "", "content": msg.content or ""}]
    blocks: list[dict[str, Any]] = []
    if msg.content:
        blocks.append({"type": "text", "text": msg.content})
    for call in msg.tool_calls:
        arguments = call.arguments if call.parse_error is None else {}
        blocks.append({"type": "tool_use", "id": call.id, "name": call.name, "input": arguments})
    return blocks


def build_messages(
    messages: Sequence[ChatMessage], system_override: str | None
) -> tuple[str | None, list[dict[str, Any]]]:
    """(``system``, ``messages``) for one request: roles user/assistant, same roles merged."""
    system, rest = split_system(messages, system_override)
    wire: list[dict[str, Any]] = []
    for msg in rest:
        role = "assistant" if msg.role == "assistant" else "user"  # tool results travel as user
        blocks = _blocks(msg)
        if not blocks:
            continue
        if wire and wire[-1]["role"] == role:
            wire[-1]["content"].extend(blocks)
        else:
            wire.append({"role": role, "content": blocks})
    return system, wire


def translate_error(exc: anthropic.AnthropicError) -> LLMError:
    """The SDK's exception as an ``LLMError`` (529 overloaded is a retryable provider error)."""
    if isinstance(exc, anthropic.APITimeoutError):
        return LLMTimeoutError("request timed out", provider=PROVIDER, retryable=True)
    if isinstance(exc, anthropic.APIConnectionError):
        cause = exc.__cause__ or exc
        return LLMConnectionError(f"connection failed: {cause}", provider=PROVIDER, retryable=True)
    if isinstance(exc, anthropic.APIStatusError):
        kind, message = _error_body(exc.body, exc.message)
        status = exc.status_code
        if status == 200:  # an ``error`` event inside a stream that had started fine
            status = _STREAM_ERROR_STATUS.get(kind or "", 500)
            message = f"stream error ({kind}): {message}"
        wait = retry_after(exc.response.headers)
        return status_error(status, message, provider=PROVIDER, code=kind, retry_after=wait)
    return LLMError(str(exc), provider=PROVIDER)


def _error_body(body: object, fallback: str) -> tuple[str | None, str]:
    """(error type, message) from ``{"type": "error", "error": {"type", "message"}}``."""
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            kind = inner.get("type")
            message = inner.get("message")
            return (kind if isinstance(kind, str) else None), (
                message if isinstance(message, str) else fallback
            )
    return None, fallback


class _ToolUse:
    """A ``tool_use`` block being streamed: id and name first, input JSON in pieces."""

    def __init__(self, call_id: str, name: str) -> None:
        self.id = call_id
        self.name = name
        self.pieces: list[str] = []


class AnthropicEngine:
    """``LLMEngine`` over Anthropic's Messages API (streaming)."""

    name = "anthropic"

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        api_key: str,
        base_url: str | None = None,
        timeout: float = 30.0,
        max_retries: int = 0,
        max_tokens: int = 1024,
        temperature: float | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        """``max_retries`` 0: a voice turn prefers a spoken fallback to a silent retry (the
        agent decides). ``clock`` times the first token; else the clock given to ``start``."""
        self.model = model
        self.max_tokens = max_tokens
        self.temperature = temperature
        self._clock_given = clock is not None
        self.clock: Callable[[], float] = clock or time.perf_counter
        self.last_ttft_ms: float | None = None
        self._options: dict[str, Any] = {
            "api_key": api_key,
            "base_url": base_url,
            "timeout": timeout,
            "max_retries": max_retries,
        }
        self._client = AsyncAnthropic(**self._options)
        self._started = False
        self._closed = False

    async def start(self, clock: Clock) -> None:
        """Adopt the run clock; reopen the HTTP client after ``aclose`` (no request is made)."""
        if self._started:
            return
        if self._closed:
            self._client = AsyncAnthropic(**self._options)
            self._closed = False
        if not self._clock_given:
            self.clock = clock.now
        self._started = True

    async def aclose(self) -> None:
        self._started = False
        if self._closed:
            return
        self._closed = True
        await self._client.close()

    def request_params(
        self,
        messages: Sequence[ChatMessage],
        tools: Sequence[ToolSpec] | None,
        tool_choice: ToolChoice | None,
        system_override: str | None,
    ) -> dict[str, Any]:
        """The keyword arguments of ``messages.create`` for one streamed round."""
        system, wire = build_messages(messages, system_override)
        params: dict[str, Any] = {
            "model": self.model,
            "max_tokens": self.max_tokens,
            "messages": wire,
            "stream": True,
        }
        if system:
            params["system"] = system
        if tools:
            params["tools"] = [anthropic_tool(spec) for spec in tools]
            if tool_choice is not None:
                params["tool_choice"] = {"auto": {"type": "auto"}, "none": {"type": "none"}}.get(
                    tool_choice, {"type": "any"}
                )
        if self.temperature is not None:
            params["temperature"] = self.temperature
        return params

    async def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        tools: Sequence[ToolSpec] | None = None,
        tool_choice: ToolChoice | None = None,
        system_override: str | None = None,
    ) -> AsyncGenerator[LLMEvent, None]:
        if self._closed:
            raise LLMError("the engine is closed (start it again to use it)", provider=PROVIDER)
        params = self.request_params(messages, tools, tool_choice, system_override)
        first = FirstToken(PROVIDER, self.clock)
        open_calls: dict[int, _ToolUse] = {}
        done_calls: list[ToolCallRequest] = []
        stop_reason = "end_turn"
        usage: dict[str, int] = {}
        stopped = False
        try:
            response = await self._client.messages.create(**params)
            # the SDK's own event generator, iterated and closed here: abandoned to the garbage
            # collector (a barge-in) it would be closed by a task of its own after we are gone
            events = response._iterator
            try:
                async for event in events:
                    kind = event.type
                    if kind == "message_start":
                        usage["input_tokens"] = int(event.message.usage.input_tokens or 0)
                    elif kind == "content_block_start":
                        block = event.content_block
                        if block.type == "tool_use":
                            first.seen()
                            open_calls[event.index] = _ToolUse(block.id, block.name)
                    elif kind == "content_block_delta":
                        delta = event.delta
                        if delta.type == "text_delta" and delta.text:
                            first.seen()
                            yield TextDelta(delta.text)
                        elif delta.type == "input_json_delta" and event.index in open_calls:
                            open_calls[event.index].pieces.append(delta.partial_json)
                    elif kind == "content_block_stop":
                        call = open_calls.pop(event.index, None)
                        if call is not None:
                            done_calls.append(parse_arguments(call.id, call.name, "".join(call.pieces)))
                    elif kind == "message_stop":
                        stopped = True
                    elif kind == "message_delta":
                        stop_reason = event.delta.stop_reason or stop_reason
                        usage["output_tokens"] = int(event.usage.output_tokens or 0)
            finally:
                await _aclose(events)
                await response.close()
        except anthropic.AnthropicError as exc:
            raise translate_error(exc) from exc
        except ValueError as exc:  # the SDK could not parse an event's JSON
            raise LLMError(
                f"malformed stream event: {exc}", provider=PROVIDER, retryable=True, code="malformed_event"
            ) from exc
        if not stopped:
            raise LLMConnectionError(
                "the stream ended before message_stop", provider=PROVIDER, retryable=True
            )
        self.last_ttft_ms = first.ms
        for request in done_calls:
            yield request
        yield Done(finish_reason=stop_reason, ttft_ms=first.ms, usage=usage)


async def _aclose(iterator: object) -> None:
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        await aclose()
