"""Gemini through the official ``google-genai`` SDK: streaming ``generate_content``.

The conversation goes over as Gemini wants it: ``system_instruction`` for the system
prompt, ``contents`` of ``user`` / ``model`` turns, the model's calls as ``functionCall``
parts and our answers as ``functionResponse`` parts in a user turn, tools as one
``Tool`` of ``FunctionDeclaration``s (JSON Schema parameters as given). Gemini requires
turns to alternate, so consecutive same-role turns (a tool result followed by the
caller's next utterance, two utterances after a failed round) are merged into one
before sending. Function calls arrive whole (not in fragments); Gemini may omit their
ids, so the adapter numbers them.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from typing import Any

import aiohttp
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from voiceflow.core.clock import Clock
from voiceflow.services.llm.adapter_kit import FirstToken, retry_after, split_system
from voiceflow.services.llm.engine import (
    ChatMessage,
    Done,
    LLMEvent,
    TextDelta,
    ToolCallRequest,
    ToolChoice,
)
from voiceflow.services.llm.errors import (
    LLMAuthError,
    LLMConnectionError,
    LLMError,
    LLMTimeoutError,
    status_error,
)
from voiceflow.services.llm.tools import ToolSpec

PROVIDER = "gemini"
DEFAULT_MODEL = "gemini-2.0-flash"

_MODES = {
    "auto": types.FunctionCallingConfigMode.AUTO,
    "none": types.FunctionCallingConfigMode.NONE,
    "required": types.FunctionCallingConfigMode.ANY,
}


def gemini_tool(specs: Sequence[ToolSpec]) -> types.Tool:
    return types.Tool(
        function_declarations=[
            types.FunctionDeclaration(
                name=s.name, description=s.description, parameters_json_schema=s.parameters
            )
            for s in specs
        ]
    )


def _response_payload(content: str | None) -> dict[str, Any]:
    """A tool's content as the ``functionResponse.response`` object (JSON objects as themselves)."""
    text = content or ""
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return {"result": text}
    return value if isinstance(value, dict) else {"result": value}


#: ids the adapter gives calls Gemini sent without one; they are ours, so they never go back
LOCAL_ID = "gemini_call_"


def _wire_id(call_id: str | None) -> str | None:
    return None if not call_id or call_id.startswith(LOCAL_ID) else call_id


def _parts(msg: ChatMessage, call_names: dict[str, str]) -> list[types.Part]:
    if msg.role == "tool":
        name = msg.name or call_names.get(msg.tool_call_id or "", "")
        return [
            types.Part(
                function_response=types.FunctionResponse(
                    id=msg.tool_call_id, name=name, response=_response_payload(msg.content)
                )
            )
        ]
    parts = [types.Part(text=msg.content)] if msg.content else []
    for call in msg.tool_calls:
        call_names[call.id] = call.name
        args = call.arguments if call.parse_error is None else {}
        call_part = types.FunctionCall(id=_wire_id(call.id), name=call.name, args=args)
        parts.append(types.Part(function_call=call_part))
    return parts


def build_contents(
    messages: Sequence[ChatMessage], system_override: str | None
) -> tuple[str | None, list[types.Content]]:
    """(``system_instruction``, ``contents``) with alternating roles: same-role turns merged."""
    system, rest = split_system(messages, system_override)
    contents: list[types.Content] = []
    call_names: dict[str, str] = {}
    for msg in rest:
        role = "model" if msg.role == "assistant" else "user"  # function responses travel as user
        parts = _parts(msg, call_names)
        if not parts:
            continue
        if contents and contents[-1].role == role:
            contents[-1].parts = [*(contents[-1].parts or []), *parts]
        else:
            contents.append(types.Content(role=role, parts=parts))
    return system, contents


def translate_error(exc: BaseException) -> LLMError:
    """An SDK or transport exception as an ``LLMError`` (status from the HTTP error)."""
    if isinstance(exc, genai_errors.APIError):
        status = int(exc.code or 0)
        code = exc.status if isinstance(exc.status, str) else None
        message = exc.message or str(exc)
        headers = getattr(exc.response, "headers", None) or {}
        wait = retry_after(headers)
        if status == 400 and "API_KEY_INVALID" in str(exc.details):
            return LLMAuthError(message, status=status, provider=PROVIDER, code=code)
        return status_error(status, message, provider=PROVIDER, code=code, retry_after=wait)
    if isinstance(exc, TimeoutError):
        return LLMTimeoutError("request timed out", provider=PROVIDER, retryable=True)
    if isinstance(exc, aiohttp.ClientPayloadError | aiohttp.ServerDisconnectedError):
        return LLMConnectionError(f"stream dropped: {exc}", provider=PROVIDER, retryable=True)
    if isinstance(exc, aiohttp.ClientError | OSError):
        return LLMConnectionError(f"connection failed: {exc}", provider=PROVIDER, retryable=True)
    return LLMError(f"{type(exc).__name__}: {exc}", provider=PROVIDER)


class GeminiEngine:
    """``LLMEngine`` over Gemini's ``streamGenerateContent`` (SSE)."""

    name = "gemini"

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        api_key: str,
        base_url: str | None = None,
        timeout: float = 30.0,
        max_tokens: int | None = None,
        temperature: float | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        """The SDK's own retries stay off: the agent decides what a failed turn does."""
        self.model = model
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.timeout = timeout
        self._clock_given = clock is not None
        self.clock: Callable[[], float] = clock or time.perf_counter
        self.last_ttft_ms: float | None = None
        self._api_key = api_key
        self._http = types.HttpOptions(base_url=base_url, timeout=int(timeout * 1000))
        self._client: genai.Client | None = None
        self._ids = itertools.count(1)

    def _open(self) -> genai.Client:
        return genai.Client(api_key=self._api_key, http_options=self._http)

    async def start(self, clock: Clock) -> None:
        if self._client is not None:
            return
        self._client = self._open()
        if not self._clock_given:
            self.clock = clock.now

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aio.aclose()
            client.close()

    def config(
        self, tools: Sequence[ToolSpec] | None, tool_choice: ToolChoice | None, system: str | None
    ) -> types.GenerateContentConfig:
        config = types.GenerateContentConfig(
            system_instruction=system,
            temperature=self.temperature,
            max_output_tokens=self.max_tokens,
            # we run the tools ourselves, through the tracker
            automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
        )
        if tools:
            config.tools = [gemini_tool(tools)]
            if tool_choice is not None:
                config.tool_config = types.ToolConfig(
                    function_calling_config=types.FunctionCallingConfig(mode=_MODES[tool_choice])
                )
        return config

    async def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        tools: Sequence[ToolSpec] | None = None,
        tool_choice: ToolChoice | None = None,
        system_override: str | None = None,
    ) -> AsyncGenerator[LLMEvent, None]:
        client = self._client
        if client is None:
            raise LLMError("the engine is not started (or was closed)", provider=PROVIDER)
        system, contents = build_contents(messages, system_override)
        config = self.config(tools, tool_choice, system)
        first = FirstToken(PROVIDER, self.clock)
        calls: list[ToolCallRequest] = []
        finish: str | None = None
        usage: dict[str, int] = {}
        try:
            chunks = await client.aio.models.generate_content_stream(
                model=self.model,
                contents=contents,
                config=config,
            )
            # the SDK's stream is a chain of generators: only cancelling the task that awaits its
            # innermost read unwinds them all (closing the outermost would leave the HTTP response open)
            queue: asyncio.Queue[object] = asyncio.Queue()
            pump = asyncio.create_task(_pump(chunks, queue), name="gemini-stream")
            try:
                while (chunk := await queue.get()) is not _END:
                    if isinstance(chunk, BaseException):
                        raise chunk
                    assert isinstance(chunk, types.GenerateContentResponse)
                    if chunk.usage_metadata is not None:
                        meta = chunk.usage_metadata
                        usage = {
                            "prompt_tokens": int(meta.prompt_token_count or 0),
                            "completion_tokens": int(meta.candidates_token_count or 0),
                        }
                    for candidate in chunk.candidates or []:
                        if candidate.finish_reason is not None:
                            finish = str(candidate.finish_reason.value)
                        for part in (candidate.content.parts if candidate.content else None) or []:
                            if part.text and not part.thought:
                                first.seen()
                                yield TextDelta(part.text)
                            elif part.function_call is not None:
                                first.seen()
                                calls.append(self._call(part.function_call))
            finally:  # closing early (a barge-in) cancels the read: the HTTP response closes
                pump.cancel()
                await asyncio.gather(pump, return_exceptions=True)
        except asyncio.CancelledError:
            raise
        except (genai_errors.APIError, aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise translate_error(exc) from exc
        except ValueError as exc:  # the SDK could not parse a chunk (UnknownApiResponseError)
            raise LLMError(
                f"malformed stream chunk: {exc}", provider=PROVIDER, retryable=True, code="malformed_event"
            ) from exc
        if finish is None:  # the last chunk carries finishReason: without it the stream was cut
            raise LLMConnectionError(
                "the stream ended before its finishReason", provider=PROVIDER, retryable=True
            )
        self.last_ttft_ms = first.ms
        for call in calls:
            yield call
        yield Done(finish_reason=finish, ttft_ms=first.ms, usage=usage)

    def _call(self, fc: types.FunctionCall) -> ToolCallRequest:
        args = dict(fc.args or {})
        return ToolCallRequest(
            id=fc.id or f"{LOCAL_ID}{next(self._ids)}",
            name=fc.name or "",
            arguments=args,
            raw_arguments=json.dumps(args, separators=(",", ":")),
        )


_END = object()


async def _pump(chunks: AsyncIterator[types.GenerateContentResponse], queue: asyncio.Queue[object]) -> None:
    """Move the SDK's chunks into ``queue``; an exception goes in as an item; ``_END`` last."""
    try:
        async for chunk in chunks:
            queue.put_nowait(chunk)
    except Exception as exc:  # handed to the reader, which raises it in its own task
        queue.put_nowait(exc)
    queue.put_nowait(_END)
