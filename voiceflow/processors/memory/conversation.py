"""The context of one call: turns, the messages an LLM sees, and a rolling summary.

A turn starts with what the caller said and holds everything the agent did
about it (tool calls, their results, what it spoke). When more than
``max_turns`` turns are live, the oldest ones are folded into a summary (an
extractive one offline, an LLM-written one when an engine is configured) and
the summary replaces them in the context.

Invariant kept for every provider: an assistant message with tool calls is
always followed by a tool message for each call id (cancelled calls included).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from typing import Any

from voiceflow.processors.memory.summarizer import ExtractiveSummarizer, LLMSummarizer, Summarizer
from voiceflow.processors.memory.turn import Turn
from voiceflow.services.llm.engine import ChatMessage, LLMEngine, ToolCallRequest

SUMMARY_PREFIX = "Summary of the earlier part of this call:"


class ConversationMemory:
    """Turn tracking and LLM context for one call, with auto-summarization past ``max_turns``."""

    def __init__(
        self,
        system_prompt: str = "",
        *,
        max_turns: int = 12,
        keep_recent: int | None = None,
        summarizer: Summarizer | None = None,
        engine: LLMEngine | None = None,
        intent_hints: bool = True,
        redact: Callable[[str], str] | None = None,
    ) -> None:
        """``keep_recent`` turns stay verbatim after a summary (default: half of ``max_turns``)."""
        if max_turns < 1:
            raise ValueError(f"max_turns must be at least 1, got {max_turns}")
        self.system_prompt = system_prompt
        self.max_turns = max_turns
        self.keep_recent = max(1, min(keep_recent if keep_recent is not None else max_turns // 2, max_turns))
        self.summarizer: Summarizer = summarizer or (
            LLMSummarizer(engine) if engine is not None else ExtractiveSummarizer()
        )
        #: add the NLU's intent and entities of the latest turn as a system note
        self.intent_hints = intent_hints
        #: applied to every summary written (PII redaction: ``voiceflow.security.redaction``)
        self.redact = redact
        self.turns: list[Turn] = []
        self.summary = ""
        self.summarized_turns = 0
        self._next_index = 0
        self._pending_intent: tuple[str, dict[str, Any], str] | None = None
        self._summarizing = asyncio.Lock()

    # -- recording ---------------------------------------------------------------------------
    @property
    def current(self) -> Turn | None:
        return self.turns[-1] if self.turns else None

    @property
    def turn_count(self) -> int:
        """Turns in the whole call, summarized ones included."""
        return self._next_index

    def _new_turn(self, user_text: str) -> Turn:
        turn = Turn(index=self._next_index, user_text=user_text)
        self._next_index += 1
        self.turns.append(turn)
        return turn

    def add_user(
        self, text: str, *, intent: str | None = None, entities: dict[str, Any] | None = None
    ) -> Turn:
        """Start a turn with what the caller said."""
        turn = self._new_turn(text)
        turn.messages.append(ChatMessage(role="user", content=text))
        if intent is not None:
            turn.intent, turn.entities = intent, dict(entities or {})
        elif self._pending_intent is not None:
            name, ents, said = self._pending_intent
            if not said or said.strip().lower() == text.strip().lower():
                turn.intent, turn.entities = name, ents
        self._pending_intent = None
        return turn

    def forget(self, turn: Turn) -> bool:
        """Remove ``turn`` if it is the latest (a turn the caller turned out to be continuing)."""
        if not self.turns or self.turns[-1] is not turn:
            return False
        self.turns.pop()
        self._next_index -= 1
        return True

    def note_intent(self, intent: str, entities: dict[str, Any] | None = None, text: str = "") -> None:
        """Attach the NLU's reading to the turn it belongs to (before or after its transcript)."""
        turn = self.current
        ents = dict(entities or {})
        if turn is not None and turn.user_text:
            said = text.strip().lower()
            if (said and said == turn.user_text.strip().lower()) or (not said and turn.intent is None):
                turn.intent, turn.entities = intent, ents
                return
        self._pending_intent = (intent, ents, text)

    def add_assistant(self, text: str) -> None:
        """Record what the agent spoke (an agent-initiated turn if the caller has not spoken)."""
        if not text.strip():
            return
        turn = self.current or self._new_turn("")
        turn.messages.append(ChatMessage(role="assistant", content=text))

    def add_tool_calls(self, calls: Sequence[ToolCallRequest], content: str | None = None) -> None:
        """Record the assistant's tool calls (and any words spoken before them)."""
        turn = self.current or self._new_turn("")
        turn.messages.append(ChatMessage(role="assistant", content=content or None, tool_calls=list(calls)))

    def add_tool_result(self, call_id: str, name: str, content: str) -> None:
        """Record a tool's result; ignored for an unknown or already answered call id (idempotent)."""
        if call_id not in {c.id for c in self.unanswered_tool_calls()}:
            return
        turn = self.current
        assert turn is not None
        turn.messages.append(ChatMessage(role="tool", tool_call_id=call_id, name=name, content=content))

    def has_tool_call(self, call_id: str) -> bool:
        """True when a live turn already holds an assistant tool call with this id."""
        return any(c.id == call_id for t in self.turns for m in t.messages for c in m.tool_calls)

    def unanswered_tool_calls(self) -> list[ToolCallRequest]:
        """Tool calls of the current turn that have no tool message yet."""
        turn = self.current
        if turn is None:
            return []
        answered = {m.tool_call_id for m in turn.messages if m.role == "tool"}
        return [
            c for m in turn.messages if m.role == "assistant" for c in m.tool_calls if c.id not in answered
        ]

    def cancel_unanswered_tool_calls(self, reason: str = "interrupted by the caller") -> list[str]:
        """Answer every open tool call with a ``cancelled`` result; returns their ids."""
        closed = []
        for call in self.unanswered_tool_calls():
            content = json.dumps({"error": {"code": "cancelled", "message": reason}, "status": "cancelled"})
            self.add_tool_result(call.id, call.name, content)
            closed.append(call.id)
        return closed

    def truncate_last_assistant(self, heard: str | int) -> str | None:
        """Cut the last spoken reply to what the caller heard (text, or a count of characters).

        Returns the kept text (None when there was no reply). A reply cut to nothing is
        removed, except that an assistant message carrying tool calls is kept without text.
        """
        for turn in reversed(self.turns):
            for pos in range(len(turn.messages) - 1, -1, -1):
                msg = turn.messages[pos]
                if msg.role != "assistant" or not msg.content:
                    continue
                if isinstance(heard, int):
                    kept = msg.content[: max(0, heard)].rstrip()
                else:
                    kept = heard.strip()
                if kept == msg.content:
                    return kept
                turn.interrupted = True
                if kept:
                    msg.content = kept
                elif msg.tool_calls:
                    msg.content = None
                else:
                    del turn.messages[pos]
                return kept
        return None

    # -- context for the LLM -------------------------------------------------------------------
    def messages(self, system_prompt: str | None = None, *, prompt_slot: bool = False) -> list[ChatMessage]:
        """System prompt, summary, then the live turns (``system_prompt`` overrides the prompt).

        ``prompt_slot`` puts the prompt first even when empty, so an engine's ``system_override``
        (which replaces a leading system message) replaces the prompt and never the summary.
        """
        prompt = self.system_prompt if system_prompt is None else system_prompt
        out: list[ChatMessage] = []
        if prompt or prompt_slot:
            out.append(ChatMessage(role="system", content=prompt))
        if self.summary:
            out.append(ChatMessage(role="system", content=f"{SUMMARY_PREFIX}\n{self.summary}"))
        for turn in self.turns:
            out.extend(
                ChatMessage(m.role, m.content, list(m.tool_calls), m.tool_call_id, m.name)
                for m in turn.messages
            )
        hint = self._intent_hint()
        if hint:
            out.append(ChatMessage(role="system", content=hint))
        return out

    def _intent_hint(self) -> str:
        turn = self.current
        if not self.intent_hints or turn is None or turn.intent is None:
            return ""
        if len(turn.messages) != 1:  # only while the caller's words are the last thing said
            return ""
        details = ", ".join(f"{k}={v}" for k, v in turn.entities.items())
        return f"Intent detected for the caller's last message: {turn.intent}" + (
            f" ({details})." if details else "."
        )

    # -- summarization -----------------------------------------------------------------------------
    @property
    def needs_summary(self) -> bool:
        return len(self.turns) > self.max_turns

    async def summarize_if_needed(self) -> bool:
        """Fold the oldest turns into the summary when over ``max_turns``; True when it did.

        The current turn is never folded (it may still have open tool calls); runs
        one at a time, and turns added meanwhile are kept.
        """
        if not self.needs_summary or self._summarizing.locked():
            return False
        async with self._summarizing:
            folded = self.turns[: len(self.turns) - self.keep_recent]
            if not folded:
                return False
            summary = await self.summarizer.summarize(self.summary, folded)
            self.summary = self.redact(summary) if self.redact is not None else summary
            gone = {id(t) for t in folded}
            self.turns = [t for t in self.turns if id(t) not in gone]
            self.summarized_turns += len(folded)
            return True
