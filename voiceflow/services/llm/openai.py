"""OpenAI-compatible chat completions through the official ``openai`` SDK.

Works against api.openai.com and any local server speaking the same protocol
(llama.cpp, vLLM, Ollama, LM Studio...) by pointing ``base_url`` at it. The
stream is turned into the provider-neutral events of ``engine.py``: text deltas
as they arrive, tool calls once their streamed argument fragments are complete,
and one ``Done`` carrying the finish reason, usage and time to first token.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import openai
from openai import AsyncOpenAI

from voiceflow.core.clock import Clock
from voiceflow.services.llm.adapter_kit import FirstToken, arguments_text, parse_arguments, retry_after
from voiceflow.services.llm.engine import ChatMessage, Done, LLMEvent, TextDelta, ToolCallRequest, ToolChoice
from voiceflow.services.llm.errors import (
    LLMConnectionError,
    LLMError,
    LLMTimeoutError,
    status_error,
)
from voiceflow.services.llm.tools import ToolSpec, openai_tool

PROVIDER = "openai"

__all__ = ["OpenAICompatEngine", "OpenAIEngine", "build_messages", "parse_arguments", "retry_after"]


def message_to_openai(msg: ChatMessage) -> dict[str, Any]:
    """One ``ChatMessage`` as the chat-completions wire dict."""
    if msg.role == "tool":
        out: dict[str, Any] = {"role": "tool", "tool_call_id": msg.tool_call_id, "content": msg.content or ""}
        return out
    out = {"role": msg.role, "content": msg.content}
    if msg.role == "assistant" and msg.tool_calls:
        out["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": arguments_text(call)},
            }
            for call in msg.tool_calls
        ]
    elif out["content"] is None:
        out["content"] = ""
    if msg.name and msg.role in ("user", "system"):
        out["name"] = msg.name
    return out


def build_messages(messages: Sequence[ChatMessage], system_override: str | None) -> list[dict[str, Any]]:
    """Wire messages; ``system_override`` replaces the system prompt (the leading system message).

    Later system messages (a summary of earlier turns, context notes) are kept.
    """
    wire = [message_to_openai(m) for m in messages]
    if system_override is None:
        return wire
    if wire and wire[0]["role"] == "system":
        wire = wire[1:]
    return [{"role": "system", "content": system_override}, *wire]


@dataclass(slots=True)
class _PartialCall:
    """A tool call being streamed: id and name come first, arguments in fragments."""

    id: str = ""
    name: str = ""
    fragments: list[str] = field(default_factory=list)


class ToolCallAssembler:
    """Joins streamed ``delta.tool_calls`` fragments per index into complete calls."""

    def __init__(self) -> None:
        self._calls: dict[int, _PartialCall] = {}

    def __bool__(self) -> bool:
        return bool(self._calls)

    def add(self, index: int, call_id: str | None, name: str | None, arguments: str | None) -> None:
        part = self._calls.setdefault(index, _PartialCall())
        if call_id:
            part.id = call_id
        if name and not part.name:  # sent once by OpenAI; some servers repeat it on every fragment
            part.name = name
        if arguments:
            part.fragments.append(arguments)

    def finish(self) -> list[ToolCallRequest]:
        done = []
        for index in sorted(self._calls):
            part = self._calls[index]
            call_id = part.id or f"call_{index}"
            done.append(parse_arguments(call_id, part.name, "".join(part.fragments)))
        self._calls.clear()
        return done


def translate_error(exc: openai.OpenAIError) -> LLMError:
    """The SDK's exception as an ``LLMError`` with the HTTP status when there was one."""
    if isinstance(exc, openai.APITimeoutError):
        return LLMTimeoutError("request timed out", provider=PROVIDER, retryable=True)
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__ or exc
        return LLMConnectionError(f"connection failed: {cause}", provider=PROVIDER, retryable=True)
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        message = _status_message(exc)
        code = exc.code if isinstance(exc.code, str) else None
        wait = retry_after(exc.response.headers)
        return status_error(status, message, provider=PROVIDER, code=code, retry_after=wait)
    if isinstance(exc, openai.APIError):
        # an error event inside an otherwise successful stream
        code = exc.code if isinstance(exc.code, str) else None
        return LLMError(f"stream error: {exc.message}", provider=PROVIDER, code=code)
    return LLMError(str(exc), provider=PROVIDER)


def _status_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return str(inner["message"])
    return exc.message


class OpenAICompatEngine:
    """``LLMEngine`` over chat completions (streaming) of any OpenAI-compatible server."""

    name = "openai"

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        api_key: str = "not-needed",
        timeout: float = 30.0,
        *,
        max_retries: int = 0,
        temperature: float | None = None,
        max_tokens: int | None = None,
        include_usage: bool = True,
        extra_body: dict[str, Any] | None = None,
        clock: Callable[[], float] | None = None,
        client: AsyncOpenAI | None = None,
    ) -> None:
        """``max_retries`` defaults to 0: a voice turn prefers a quick spoken fallback to a retry.

        ``clock`` (a ``now`` function) times the first token; without it the clock given to
        ``start`` is used (the run's), and ``time.perf_counter`` before that. A ``client``
        passed in belongs to the caller: ``aclose`` leaves it open.
        """
        self.model = model
        self.base_url = base_url
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.include_usage = include_usage
        self.extra_body = extra_body
        self._clock_given = clock is not None
        self.clock: Callable[[], float] = clock or time.perf_counter
        self.last_ttft_ms: float | None = None
        self._client_options: dict[str, Any] = {
            "api_key": api_key,
            "base_url": base_url,
            "timeout": timeout,
            "max_retries": max_retries,
        }
        self._owns_client = client is None
        self._client = client or AsyncOpenAI(**self._client_options)
        self._started = False
        self._closed = False

    async def start(self, clock: Clock) -> None:
        """Adopt the run clock for time to first token; reopen the HTTP client after ``aclose``.

        No request is made: credentials are checked by the first call, which maps a refusal
        to ``LLMAuthError``.
        """
        if self._started:
            return
        if self._closed:
            if self._owns_client:
                self._client = AsyncOpenAI(**self._client_options)
            self._closed = False
        if not self._clock_given:
            self.clock = clock.now
        self._started = True

    async def aclose(self) -> None:
        """Close the HTTP client (its connection pool) when the engine made it; idempotent."""
        self._started = False
        if self._closed:
            return
        self._closed = True
        if self._owns_client:
            await self._client.close()

    def request_params(
        self,
        messages: Sequence[ChatMessage],
        tools: Sequence[ToolSpec] | None,
        tool_choice: ToolChoice | None,
        system_override: str | None,
    ) -> dict[str, Any]:
        """The keyword arguments of ``chat.completions.create`` for one streamed round."""
        params: dict[str, Any] = {
            "model": self.model,
            "messages": build_messages(messages, system_override),
            "stream": True,
        }
        if tools:
            params["tools"] = [openai_tool(spec) for spec in tools]
            if tool_choice is not None:
                params["tool_choice"] = tool_choice
        if self.include_usage:
            params["stream_options"] = {"include_usage": True}
        if self.temperature is not None:
            params["temperature"] = self.temperature
        if self.max_tokens is not None:
            params["max_completion_tokens"] = self.max_tokens
        if self.extra_body:
            params["extra_body"] = self.extra_body
        return params

    async def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        tools: Sequence[ToolSpec] | None = None,
        tool_choice: ToolChoice | None = None,
        system_override: str | None = None,
    ) -> AsyncGenerator[LLMEvent, None]:
        """Stream one reply. Without tools (or with an empty list) no tool fields are sent."""
        if self._closed:
            raise LLMError("the engine is closed (start it again to use it)", provider=PROVIDER)
        params = self.request_params(messages, tools, tool_choice, system_override)
        first = FirstToken(PROVIDER, self.clock)
        finish_reason = "stop"
        usage: dict[str, int] = {}
        calls = ToolCallAssembler()
        try:
            response = await self._client.chat.completions.create(**params)
            async with response:
                async for chunk in response:
                    if chunk.usage is not None:
                        usage = _usage_dict(chunk.usage)
                    for choice in chunk.choices:
                        if choice.index != 0:
                            continue
                        delta = choice.delta
                        if delta.content or delta.tool_calls:
                            first.seen()
                        for tc in delta.tool_calls or ():
                            fn = tc.function
                            calls.add(tc.index, tc.id, fn.name if fn else None, fn.arguments if fn else None)
                        if delta.content:
                            yield TextDelta(delta.content)
                        if choice.finish_reason:
                            finish_reason = choice.finish_reason
        except openai.OpenAIError as exc:
            raise translate_error(exc) from exc
        self.last_ttft_ms = first.ms
        for call in calls.finish():
            yield call
        yield Done(finish_reason=finish_reason, ttft_ms=first.ms, usage=usage)


def _usage_dict(usage: Any) -> dict[str, int]:
    fields = ("prompt_tokens", "completion_tokens", "total_tokens")
    return {name: int(getattr(usage, name)) for name in fields if getattr(usage, name, None) is not None}


#: the name the provider choice ``VOICEFLOW_LLM=openai`` uses
OpenAIEngine = OpenAICompatEngine
