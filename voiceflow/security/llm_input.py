"""An LLM engine wrapper that redacts PII from what is sent to the provider (``VOICEFLOW_REDACT_LLM_INPUT``).

User, assistant and tool messages pass through the redactor before the wrapped
engine sees them; the system prompt is ours and goes as is. The cost: the model
no longer sees a number the caller said (it sees ``[PHONE]``), so a tool that needs
it cannot get it from the model; hence off by default, on for cloud models that
are not covered by a data-processing agreement.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncGenerator, Callable, Sequence

from voiceflow.core.clock import Clock
from voiceflow.services.llm.engine import ChatMessage, LLMEngine, LLMEvent, ToolChoice
from voiceflow.services.llm.tools import ToolSpec

__all__ = ["RedactingLLM"]


class RedactingLLM:
    def __init__(self, engine: LLMEngine, redact: Callable[[str], str]) -> None:
        self.engine = engine
        self.redact = redact
        self.name = engine.name

    async def start(self, clock: Clock) -> None:
        await self.engine.start(clock)

    async def aclose(self) -> None:
        await self.engine.aclose()

    def clean(self, messages: Sequence[ChatMessage]) -> list[ChatMessage]:
        return [
            dataclasses.replace(m, content=self.redact(m.content)) if m.content and m.role != "system" else m
            for m in messages
        ]

    def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        tools: Sequence[ToolSpec] | None = None,
        tool_choice: ToolChoice | None = None,
        system_override: str | None = None,
    ) -> AsyncGenerator[LLMEvent, None]:
        return self.engine.stream(
            self.clean(messages), tools=tools, tool_choice=tool_choice, system_override=system_override
        )
