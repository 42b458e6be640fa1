"""What the Realtime processor keeps per assistant item and per response, and tool arguments as a dict."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Item", "Response", "args_for_frame"]


@dataclass
class Item:
    """One assistant audio item: its utterance id on our side and what it said."""

    item_id: str
    response_id: str
    utterance_id: int
    text: list[str] = field(default_factory=list)
    audio_ms: float = 0.0
    done: bool = False  # the response finished generating it
    cut: bool = False  # a barge-in stopped its playout
    remembered: bool = False  # its text is in the conversation memory
    recorded: bool = False  # its heard text went downstream (persistent memory)

    @property
    def transcript(self) -> str:
        return "".join(self.text).strip()


@dataclass
class Response:
    calls: set[str] = field(default_factory=set)  # call ids still running
    outputs: int = 0
    done: bool = False
    cancelled: bool = False


def args_for_frame(arguments: str) -> dict[str, Any]:
    """The arguments as a dict for the ``ToolCall`` frame ({} when they are not a JSON object)."""
    try:
        parsed = json.loads(arguments) if arguments.strip() else {}
    except ValueError:
        return {"_raw": arguments[:200]}
    return parsed if isinstance(parsed, dict) else {"_raw": arguments[:200]}
