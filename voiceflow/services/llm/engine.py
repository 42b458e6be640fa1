"""The provider-neutral LLM engine interface.

Every provider adapter (OpenAI-compatible now; Anthropic, Gemini later) turns a
list of ``ChatMessage`` plus provider-neutral ``ToolSpec`` declarations into a
stream of ``TextDelta`` / ``ToolCallRequest`` events closed by one ``Done``.
Failures raise the ``LLMError`` family of ``errors.py``. Closing the stream early
(a barge-in) must close the request to the provider. The adapters' common
behaviour is pinned by ``tests/contracts/test_llm_contract.py``.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from voiceflow.services.lifecycle import Service
from voiceflow.services.llm.tools import ToolSpec

Role = Literal["system", "user", "assistant", "tool"]
ToolChoice = Literal["auto", "none", "required"]


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


class LLMEngine(Service, Protocol):
    """``name``, ``start(clock)`` and ``aclose()`` come from ``Service``.

    ``start`` adopts the run clock (time to first token is measured on it); an engine
    is shared by calls, so ``start`` is idempotent and the owner, not a processor,
    calls ``aclose``.
    """

    def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        tools: Sequence[ToolSpec] | None = None,
        tool_choice: ToolChoice | None = None,
        system_override: str | None = None,
    ) -> AsyncGenerator[LLMEvent, None]:
        """Stream the reply to ``messages`` (a generator: ``aclose`` it to abandon the request).

        ``tools`` are offered for this round (none or empty: no tool fields are sent);
        ``tool_choice="none"`` forbids calling them, ``"required"`` forces a call.
        ``system_override`` is this round's system prompt: it replaces ``messages[0]`` when
        that is a system message (the standing prompt) and is put first otherwise; later
        system messages (summaries, notes) are kept. The agent passes it for a turn whose
        prompt differs from the standing one (a knowledge-grounded answer).
        """
        ...
