"""The conversation so far, handed to the dialogue policy when it takes over a call mid-way.

A call served by another graph (a Realtime session that could not go on) continues on
the cascaded graph: its ``DialoguePolicy`` takes the caller's and the agent's words and
what the tools found (``Handoff``), read from the call's ``ConversationMemory``, so it
picks the conversation up (the order just checked, the booking just made, the last reply
to repeat) instead of starting over.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from voiceflow.processors.memory.conversation import ConversationMemory

__all__ = ["Handoff", "handoff_from_memory"]


@dataclass(frozen=True, slots=True)
class Handoff:
    #: ("user" | "assistant", words) in the order they were said (the assistant's: as heard)
    turns: tuple[tuple[str, str], ...] = ()
    #: (tool, result) of every tool that ran and succeeded, in order
    tool_results: tuple[tuple[str, dict[str, Any]], ...] = ()


def handoff_from_memory(memory: ConversationMemory) -> Handoff:
    """What ``memory`` holds of the call (summarized turns are not replayed: their summary is text)."""
    turns: list[tuple[str, str]] = []
    results: list[tuple[str, dict[str, Any]]] = []
    for msg in memory.messages(system_prompt=""):
        if msg.role in ("user", "assistant") and msg.content:
            turns.append((msg.role, msg.content))
        elif msg.role == "tool" and msg.name and msg.content:
            try:
                result = json.loads(msg.content)
            except ValueError:
                continue
            if isinstance(result, dict) and "error" not in result:
                results.append((msg.name, result))
    return Handoff(tuple(turns), tuple(results))
