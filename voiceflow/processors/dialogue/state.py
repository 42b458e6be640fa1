"""The dialogue's memory of the call, what a caller turn is, and the actions a decision asks for.

Kept free of I/O so ``DialoguePolicyLogic.decide`` can be tested turn by turn.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Turn:
    """One caller input: an understood utterance, or a keypad entry (``digits``)."""

    intent: str
    entities: Mapping[str, Any] = field(default_factory=dict)
    emotion: str = "neutral"
    text: str = ""
    digits: str | None = None
    #: the NLU was confident; a guess must not end the call, transfer or write anything
    understood: bool = True


@dataclass(frozen=True, slots=True)
class Say:
    """Speak one reply."""

    text: str


@dataclass(frozen=True, slots=True)
class CallTool:
    """Run a tool; its outcome goes back to ``after_tool``."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Lookup:
    """Search the knowledge base; the chunks go back to ``after_lookup``.

    ``fallback``: the caller's request was out of scope; a weak match means "say the fallback".
    """

    query: str
    fallback: bool = False


Action = Say | CallTool | Lookup


@dataclass
class DialogueState:
    """Everything the policy remembers during one call."""

    #: the slot-filling task in progress ("schedule_appointment", "check_order", ...)
    task: str | None = None
    slots: dict[str, Any] = field(default_factory=dict)
    confirmed: bool = False
    #: what the last reply asked for: a slot name, "confirm", "offer_human" or "anything_else"
    awaiting: str | None = None
    #: failed tries at the current task (re-asks after a bad answer or a tool error)
    attempts: int = 0
    #: free slots offered after a conflict ({"date", "time", "spoken"})
    suggestions: list[dict[str, str]] = field(default_factory=list)
    #: a question to come back to after answering a side question mid-task
    resume_question: str | None = None
    #: values worth reusing later in the call (the order just checked, the booking just made)
    remembered: dict[str, Any] = field(default_factory=dict)
    caller_name: str | None = None
    caller_phone: str | None = None
    last_topic: str | None = None
    last_reply: str = ""
    last_emotion: str = "neutral"
    upset_turns: int = 0
    offered_human: bool = False
    fallbacks: int = 0
    turns: int = 0
    dtmf_buffer: str = ""
    #: empathy opener waiting for the next reply of this turn
    pending_prefix: str = ""
    ended: bool = False
    #: the weekday an opening-hours question asked about ("Saturday"), for its answer
    hours_day: str | None = None
    #: ("user" | "assistant", words) of the call before this policy took it over (``take_over``)
    history: list[tuple[str, str]] = field(default_factory=list)

    @property
    def first_name(self) -> str | None:
        return self.caller_name.split()[0] if self.caller_name else None

    def start_task(self, task: str) -> None:
        self.task = task
        self.slots = {}
        self.confirmed = False
        self.awaiting = None
        self.attempts = 0
        self.suggestions = []
        self.resume_question = None

    def clear_task(self) -> None:
        self.start_task("")
        self.task = None

    def copy(self) -> DialogueState:
        """A deep copy: the processor commits it only when a turn is fully handled."""
        return copy.deepcopy(self)
