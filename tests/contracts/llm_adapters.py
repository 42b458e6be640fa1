"""The LLM adapters the contract runs against: one ``LLMAdapter`` entry each in ``LLM_ADAPTERS``.

An entry opens an ``LLMHarness``: the engine (not started: starting is part of the
contract) pointed at its provider's local fake, and an ``LLMBackend`` that scripts
that fake and reads what it received in provider-neutral terms. The Anthropic and
Gemini fakes share one scripting vocabulary (``llm_server``), so their backends differ
only in how the request declares its tools.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from voiceflow.services.llm.anthropic import AnthropicEngine
from voiceflow.services.llm.engine import LLMEngine
from voiceflow.services.llm.gemini import GeminiEngine
from voiceflow.services.llm.openai import OpenAICompatEngine
from voiceflow.testing.fakes.anthropic_server import FakeAnthropicServer
from voiceflow.testing.fakes.gemini_server import FakeGeminiServer, declared_parameters
from voiceflow.testing.fakes.llm_server import CallTool, Fail, FakeLLMServer, Hang, Say
from voiceflow.testing.fakes.openai_server import (
    ErrorReply,
    FakeOpenAIServer,
    FakeToolCall,
    HangReply,
    TextReply,
    ToolCallsReply,
)


class LLMBackend(Protocol):
    """A provider's fake, scripted and inspected without its wire vocabulary."""

    def reply_text(self, chunks: Sequence[str]) -> None:
        """The next request streams these text pieces, then ends normally."""

    def reply_tool_call(self, name: str, arguments: dict[str, Any]) -> None:
        """The next request answers with one call of tool ``name`` (arguments streamed in pieces)."""

    def reply_error(self, status: int, *, retry_after: float | None = None) -> None:
        """The next request fails with HTTP ``status`` (and a Retry-After header when given)."""

    def reply_hang(self) -> None:
        """The next request never answers."""

    def reply_held(self, chunks: Sequence[str], *, hold_after: int) -> None:
        """The next request streams ``hold_after`` pieces, then waits (until the server stops)."""

    def sent_tools(self) -> list[tuple[str, str, dict[str, Any]]]:
        """(name, description, JSON-schema parameters) of the tools declared in the last request."""

    def sent_forbids_tools(self) -> bool:
        """Whether the last request told the provider not to call any tool."""

    async def closed_by_client(self, within: float = 5.0) -> bool:
        """Once the last request has ended: whether the client closed it before it was complete.

        False too when it has not ended within ``within`` seconds (real time).
        """

    async def received(self, within: float = 5.0) -> None:
        """Until the fake has received a request (TimeoutError after ``within`` seconds)."""

    def sent_system(self) -> str | None:
        """The system prompt the last request carried (all of its system text, joined)."""


@dataclass
class LLMHarness:
    engine: LLMEngine
    backend: LLMBackend


@dataclass(frozen=True)
class LLMAdapter:
    id: str
    #: opens a harness; ``timeout`` is the engine's request timeout in seconds
    open: Callable[..., AbstractAsyncContextManager[LLMHarness]]


class OpenAIBackend:
    """``LLMBackend`` over ``FakeOpenAIServer`` (chat completions, SSE)."""

    def __init__(self, fake: FakeOpenAIServer) -> None:
        self.fake = fake

    def reply_text(self, chunks: Sequence[str]) -> None:
        self.fake.script(TextReply(chunks=list(chunks)))

    def reply_tool_call(self, name: str, arguments: dict[str, Any]) -> None:
        self.fake.script(ToolCallsReply(calls=[FakeToolCall(name, arguments, fragments=4)]))

    def reply_error(self, status: int, *, retry_after: float | None = None) -> None:
        headers = {"retry-after": f"{retry_after:g}"} if retry_after is not None else {}
        self.fake.script(ErrorReply(status=status, message=f"scripted {status}", headers=headers))

    def reply_hang(self) -> None:
        self.fake.script(HangReply())

    def reply_held(self, chunks: Sequence[str], *, hold_after: int) -> None:
        # +1: the fake's first event is the role-only chunk, which carries no text
        self.fake.script(TextReply(chunks=list(chunks), hold_after=hold_after + 1, release=asyncio.Event()))

    def sent_tools(self) -> list[tuple[str, str, dict[str, Any]]]:
        tools = self.fake.bodies[-1].get("tools") or []
        return [
            (t["function"]["name"], t["function"]["description"], t["function"]["parameters"]) for t in tools
        ]

    def sent_forbids_tools(self) -> bool:
        return self.fake.bodies[-1].get("tool_choice") == "none"

    def sent_system(self) -> str | None:
        texts = [m["content"] for m in self.fake.bodies[-1]["messages"] if m["role"] == "system"]
        return "\n\n".join(texts) if texts else None

    async def closed_by_client(self, within: float = 5.0) -> bool:
        try:
            return (await self.fake.wait_finished(timeout=within)).closed_by_client
        except TimeoutError:
            return False

    async def received(self, within: float = 5.0) -> None:
        await self.fake.wait_received(timeout=within)


@asynccontextmanager
async def open_openai(*, timeout: float = 5.0) -> AsyncIterator[LLMHarness]:
    async with FakeOpenAIServer() as fake:
        engine = OpenAICompatEngine("fake-model", base_url=fake.base_url, api_key="sk-test", timeout=timeout)
        try:
            yield LLMHarness(engine, OpenAIBackend(fake))
        finally:
            await engine.aclose()


class SharedFakeBackend:
    """``LLMBackend`` over a ``FakeLLMServer`` (Anthropic, Gemini): neutral replies, wire reads."""

    def __init__(self, fake: FakeLLMServer) -> None:
        self.fake = fake

    def reply_text(self, chunks: Sequence[str]) -> None:
        self.fake.script(Say(chunks=list(chunks)))

    def reply_tool_call(self, name: str, arguments: dict[str, Any]) -> None:
        self.fake.script(CallTool(name=name, arguments=arguments, fragments=4))

    def reply_error(self, status: int, *, retry_after: float | None = None) -> None:
        self.fake.script(Fail(status=status, message=f"scripted {status}", retry_after=retry_after))

    def reply_hang(self) -> None:
        self.fake.script(Hang())

    def reply_held(self, chunks: Sequence[str], *, hold_after: int) -> None:
        # the events before the first text piece: Anthropic's message_start, ping, block start
        lead = 3 if isinstance(self.fake, FakeAnthropicServer) else 0
        self.fake.script(Say(chunks=list(chunks), hold_after=hold_after + lead, release=asyncio.Event()))

    def sent_tools(self) -> list[tuple[str, str, dict[str, Any]]]:
        body = self.fake.bodies[-1]
        if isinstance(self.fake, FakeAnthropicServer):
            return [(t["name"], t["description"], t["input_schema"]) for t in body.get("tools") or []]
        return [
            (d["name"], d["description"], declared_parameters(d))
            for t in body.get("tools") or []
            for d in t["functionDeclarations"]
        ]

    def sent_forbids_tools(self) -> bool:
        body = self.fake.bodies[-1]
        if isinstance(self.fake, FakeAnthropicServer):
            return (body.get("tool_choice") or {}).get("type") == "none"
        return ((body.get("toolConfig") or {}).get("functionCallingConfig") or {}).get("mode") == "NONE"

    async def closed_by_client(self, within: float = 5.0) -> bool:
        try:
            return (await self.fake.wait_finished(timeout=within)).closed_by_client
        except TimeoutError:
            return False

    async def received(self, within: float = 5.0) -> None:
        await self.fake.wait_received(timeout=within)

    def sent_system(self) -> str | None:
        body = self.fake.bodies[-1]
        if isinstance(self.fake, FakeAnthropicServer):
            return body.get("system")
        parts = (body.get("systemInstruction") or {}).get("parts") or []
        return "".join(p.get("text", "") for p in parts) or None


@asynccontextmanager
async def open_anthropic(*, timeout: float = 5.0) -> AsyncIterator[LLMHarness]:
    async with FakeAnthropicServer(api_key="sk-ant-test") as fake:
        engine = AnthropicEngine(
            "claude-fake", api_key="sk-ant-test", base_url=fake.base_url, timeout=timeout
        )
        try:
            yield LLMHarness(engine, SharedFakeBackend(fake))
        finally:
            await engine.aclose()


@asynccontextmanager
async def open_gemini(*, timeout: float = 5.0) -> AsyncIterator[LLMHarness]:
    async with FakeGeminiServer(api_key="gm-test") as fake:
        engine = GeminiEngine("gemini-fake", api_key="gm-test", base_url=fake.base_url, timeout=timeout)
        try:
            yield LLMHarness(engine, SharedFakeBackend(fake))
        finally:
            await engine.aclose()


LLM_ADAPTERS: list[LLMAdapter] = [
    LLMAdapter("openai", open_openai),
    LLMAdapter("anthropic", open_anthropic),
    LLMAdapter("gemini", open_gemini),
]
