"""Per-turn system prompts for the LLM agent: a turn can be answered under another prompt.

A ``TurnPrompt`` sees the caller's turn (words, NLU intent, entities) and the standing
system prompt, and returns the system prompt for this turn, or None to keep the standing
one. The agent sends it as the engine's ``system_override`` for every round of the turn,
so the conversation memory keeps one standing prompt and the history is untouched.

``KnowledgeGrounding`` is the one shipped: for a knowledge question it searches the
knowledge base and grounds the answer in the passages found (RAG), telling the model to
say it does not know when nothing relevant was found.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import Protocol

from voiceflow.processors.memory.turn import Turn

#: (the caller's turn, the standing system prompt) → this turn's system prompt, or None
TurnPrompt = Callable[[Turn, str], Awaitable[str | None]]

GROUNDED_INSTRUCTIONS = (
    "Answer the caller's question from these passages of our knowledge base only. "
    "If they do not answer it, say you are not sure and offer to connect the caller with someone."
)
UNGROUNDED_INSTRUCTIONS = (
    "The knowledge base has nothing on the caller's question: do not guess. Say you are not sure "
    "and offer to connect the caller with someone who knows."
)


class Passage(Protocol):
    @property
    def text(self) -> str: ...

    @property
    def score(self) -> float: ...


class KnowledgeSource(Protocol):
    """What grounding needs from RAG (``voiceflow.processors.rag.KnowledgeBase`` fits)."""

    async def search(self, query: str, k: int = 3) -> Sequence[Passage]: ...


class KnowledgeGrounding:
    """A ``TurnPrompt``: the standing prompt plus the best passages for a knowledge question.

    Args:
        source: the knowledge base (``async search(query, k)``).
        intents: the NLU intents that are knowledge questions; None grounds every turn.
        k: passages to search for; ``min_score``: below it a passage is not used.
        max_chars: bound on the passages' text, to keep the prompt (and the latency) small.
    """

    def __init__(
        self,
        source: KnowledgeSource,
        *,
        intents: Collection[str] | None = ("knowledge_question",),
        k: int = 3,
        min_score: float = 0.35,
        max_chars: int = 1500,
    ) -> None:
        self.source = source
        self.intents = frozenset(intents) if intents is not None else None
        self.k = k
        self.min_score = min_score
        self.max_chars = max_chars

    async def __call__(self, turn: Turn, standing: str) -> str | None:
        if self.intents is not None and turn.intent not in self.intents:
            return None
        query = turn.user_text.strip()
        if not query:
            return None
        hits = [h for h in await self.source.search(query, self.k) if h.score >= self.min_score]
        head = f"{standing}\n\n" if standing else ""
        if not hits:
            return head + UNGROUNDED_INSTRUCTIONS
        passages: list[str] = []
        used = 0
        for hit in hits:
            text = " ".join(hit.text.split())
            if passages and used + len(text) > self.max_chars:
                break
            passages.append(f"[{len(passages) + 1}] {text[: self.max_chars]}")
            used += len(text)
        return head + GROUNDED_INSTRUCTIONS + "\n" + "\n".join(passages)
