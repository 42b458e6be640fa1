"""Tool frames: a function call requested by the dialogue and its result fed back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from voiceflow.frames.base import Frame, Origin


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolCall(Frame):
    origin: ClassVar[Origin] = Origin.BOT
    call_id: str
    tool: str
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolResult(Frame):
    origin: ClassVar[Origin] = Origin.BOT
    call_id: str
    tool: str
    result: Any = None
    error: str | None = None
    status: str = "done"  # done | error | cancelled
