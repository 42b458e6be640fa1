"""One exchange of a conversation: shared by the conversation memory and its summarizers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from voiceflow.services.llm.engine import ChatMessage


@dataclass
class Turn:
    """One exchange: the caller's words (empty for an agent-initiated turn) and what followed."""

    index: int
    user_text: str = ""
    intent: str | None = None
    entities: dict[str, Any] = field(default_factory=dict)
    messages: list[ChatMessage] = field(default_factory=list)
    #: the caller barged in: the spoken reply was cut (see ``truncate_last_assistant``)
    interrupted: bool = False

    @property
    def assistant_text(self) -> str:
        """What the agent said in this turn (spoken text only, no tool traffic)."""
        parts = [m.content for m in self.messages if m.role == "assistant" and m.content]
        return " ".join(p.strip() for p in parts if p.strip())
