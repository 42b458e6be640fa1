"""Summaries that replace old turns in a call's context.

``ExtractiveSummarizer`` works offline: it keeps the caller's goals (task
intents), the entities (order ids, dates, times...) and the sentences that
carry numbers or entity values. ``LLMSummarizer`` asks the configured engine
and falls back to the extractive one when the engine fails or returns nothing.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from voiceflow.services.llm.engine import ChatMessage, LLMEngine, TextDelta
from voiceflow.services.llm.errors import LLMError

if TYPE_CHECKING:
    from voiceflow.processors.memory.turn import Turn

#: intents that say nothing worth remembering about what the caller wants
CONVERSATIONAL_INTENTS = frozenset(
    {"greeting", "goodbye", "affirm", "deny", "repeat", "help", "small_talk", "out_of_scope", "thanks"}
)

_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_DIGIT = re.compile(r"\d")
GOALS = "Caller goals:"
DETAILS = "Details:"
POINTS = "Key points:"


class Summarizer(Protocol):
    async def summarize(self, previous: str, turns: Sequence[Turn]) -> str:
        """A new summary covering ``previous`` (may be empty) and ``turns``."""
        ...


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text.strip()) if s.strip()]


class ExtractiveSummarizer:
    """Picks key facts and sentences; deterministic, no model, microseconds."""

    def __init__(self, max_points: int = 6, max_point_chars: int = 160) -> None:
        self.max_points = max_points
        self.max_point_chars = max_point_chars

    def score(self, sentence: str, values: Sequence[str], task_turn: bool, by_caller: bool) -> float:
        """Higher for sentences carrying numbers, entity values, a task intent, the caller's voice."""
        lowered = sentence.lower()
        score = 0.0
        if _DIGIT.search(sentence):
            score += 3
        score += 2 * sum(1 for v in values if v and v.lower() in lowered)
        if task_turn:
            score += 2
        if by_caller:
            score += 1
        if len(sentence.split()) < 3 and score < 3:
            score -= 5  # "Yes.", "Okay thanks." carry nothing
        return score

    async def summarize(self, previous: str, turns: Sequence[Turn]) -> str:
        return self.summarize_now(previous, turns)

    def summarize_now(self, previous: str, turns: Sequence[Turn]) -> str:
        goals, details, points = parse_summary(previous)
        candidates: list[tuple[float, int, str]] = []
        order = 0
        for turn in turns:
            task_turn = bool(turn.intent) and turn.intent not in CONVERSATIONAL_INTENTS
            if task_turn and turn.intent not in goals:
                goals.append(str(turn.intent))
            for key, value in turn.entities.items():
                details[str(key)] = str(value)
            values = [str(v) for v in turn.entities.values()]
            for speaker, text in (("Caller", turn.user_text), ("Agent", turn.assistant_text)):
                for sentence in _sentences(text):
                    score = self.score(sentence, values, task_turn, speaker == "Caller")
                    if score > 0:
                        candidates.append((score, order, f"{speaker}: {sentence[: self.max_point_chars]}"))
                    order += 1
        best = sorted(candidates, key=lambda c: (-c[0], c[1]))[: self.max_points]
        points.extend(text for _, _, text in sorted(best, key=lambda c: c[1]))
        return render_summary(goals, details, points[-self.max_points * 2 :])


def parse_summary(text: str) -> tuple[list[str], dict[str, str], list[str]]:
    """Goals, details and points of a summary this module wrote; other lines become points."""
    goals: list[str] = []
    details: dict[str, str] = {}
    points: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line == POINTS:
            continue
        if line.startswith(GOALS):
            goals = [g.strip() for g in line[len(GOALS) :].rstrip(".").split(",") if g.strip()]
        elif line.startswith(DETAILS):
            for pair in line[len(DETAILS) :].rstrip(".").split(";"):
                key, sep, value = pair.partition("=")
                if sep:
                    details[key.strip()] = value.strip()
        else:
            points.append(line.removeprefix("- "))
    return goals, details, points


def render_summary(goals: Sequence[str], details: dict[str, str], points: Sequence[str]) -> str:
    lines = []
    if goals:
        lines.append(f"{GOALS} {', '.join(goals)}.")
    if details:
        lines.append(f"{DETAILS} {'; '.join(f'{k}={v}' for k, v in details.items())}.")
    if points:
        lines.append(POINTS)
        lines.extend(f"- {p}" for p in points)
    return "\n".join(lines)


SUMMARY_INSTRUCTIONS = (
    "You maintain the memory of a phone agent. Rewrite the summary of the call so far so it "
    "includes the new exchanges. Keep names, order ids, confirmation numbers, dates, times, "
    "amounts, what the caller wants and what was decided or is still open. Plain sentences, "
    "at most {max_sentences} of them, no preamble."
)


class LLMSummarizer:
    """Summaries written by the configured engine (no tools), extractive when it fails."""

    def __init__(
        self,
        engine: LLMEngine,
        *,
        max_sentences: int = 6,
        fallback: ExtractiveSummarizer | None = None,
    ) -> None:
        self.engine = engine
        self.max_sentences = max_sentences
        self.fallback = fallback or ExtractiveSummarizer()
        self.failures = 0

    async def summarize(self, previous: str, turns: Sequence[Turn]) -> str:
        transcript = "\n".join(
            line
            for turn in turns
            for line in (
                f"Caller: {turn.user_text}" if turn.user_text else "",
                f"Agent: {turn.assistant_text}" if turn.assistant_text else "",
            )
            if line
        )
        prompt = f"Summary so far:\n{previous or '(none)'}\n\nNew exchanges:\n{transcript}"
        messages = [
            ChatMessage(role="system", content=SUMMARY_INSTRUCTIONS.format(max_sentences=self.max_sentences)),
            ChatMessage(role="user", content=prompt),
        ]
        try:
            async with contextlib.aclosing(self.engine.stream(messages)) as events:
                parts = [ev.text async for ev in events if isinstance(ev, TextDelta)]
        except LLMError:
            self.failures += 1
            return self.fallback.summarize_now(previous, turns)
        text = "".join(parts).strip()
        if not text:
            self.failures += 1
            return self.fallback.summarize_now(previous, turns)
        return text
