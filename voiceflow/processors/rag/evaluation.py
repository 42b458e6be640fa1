"""Retrieval quality on a labelled question set (tests and the benchmark share it).

A question is answered when one of the top-k chunks comes from the expected
source file and contains the expected phrase (case-insensitive).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from voiceflow.processors.rag.chunking import Chunk
from voiceflow.processors.rag.knowledge import KnowledgeBase

DEFAULT_QUESTIONS = Path(__file__).resolve().parents[3] / "tests" / "rag" / "questions.json"


@dataclass(frozen=True, slots=True)
class LabelledQuestion:
    question: str
    source: str
    phrase: str

    def matches(self, chunk: Chunk) -> bool:
        return chunk.source == self.source and self.phrase.lower() in chunk.text.lower()


@dataclass(slots=True)
class RecallResult:
    k: int
    total: int
    hits: int
    misses: list[tuple[LabelledQuestion, list[Chunk]]]

    @property
    def recall(self) -> float:
        return self.hits / self.total if self.total else 0.0


def load_questions(path: Path = DEFAULT_QUESTIONS) -> list[LabelledQuestion]:
    data = json.loads(path.read_text(encoding="utf-8"))
    items = data["questions"] if isinstance(data, dict) else data
    return [LabelledQuestion(q["question"], q["source"], q["phrase"]) for q in items]


def recall_at_k(kb: KnowledgeBase, questions: list[LabelledQuestion], k: int = 3) -> RecallResult:
    """Share of questions whose expected chunk is among the top ``k`` (no score threshold)."""
    hits = 0
    misses: list[tuple[LabelledQuestion, list[Chunk]]] = []
    for question in questions:
        found = kb.search_sync(question.question, k, min_score=-1.0)
        if any(question.matches(chunk) for chunk in found):
            hits += 1
        else:
            misses.append((question, found))
    return RecallResult(k=k, total=len(questions), hits=hits, misses=misses)
