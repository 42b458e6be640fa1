"""The provider-neutral LLM engine interface.

Every provider adapter (OpenAI-compatible now; Anthropic, Gemini later) turns a
list of ``ChatMessage`` plus OpenAI-format tool declarations into a stream of
``TextDelta`` / ``ToolCallRequest`` events closed by one ``Done``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(slots=True)
class ToolCallRequest:
    """A complete function call requested by the model (arguments already parsed)."""

    id: str
    name: str
    arguments: dict[str, Any]
    #: the raw JSON text, kept when it failed to parse (``arguments`` is then empty)
    raw_arguments: str = ""
    parse_error: str | None = None


@dataclass(slots=True)
class ChatMessage:
    role: Role
    content: str | None = None
    tool_calls: list[ToolCallRequest] = field(default_factory=list)
    tool_call_id: str | None = None
    name: str | None = None


@dataclass(slots=True)
class TextDelta:
    text: str


@dataclass(slots=True)
class Done:
    finish_reason: str = "stop"
    ttft_ms: float | None = None
    usage: dict[str, int] = field(default_factory=dict)


LLMEvent = TextDelta | ToolCallRequest | Done


class LLMEngine(Protocol):
    name: str

    def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        tools: Sequence[dict[str, Any]] | None = None,
        tool_choice: str | None = None,
        system_override: str | None = None,
    ) -> AsyncIterator[LLMEvent]:
        """Stream the reply. ``tool_choice="none"`` forbids tool calls for this round."""
        ...
