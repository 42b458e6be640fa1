"""RAGProcessor in a running graph: knowledge intents are answered, others pass through."""

from __future__ import annotations

from voiceflow.frames import Error, Intent, TextToSpeak
from voiceflow.graphs import Collector, Graph, GraphRun, VirtualClock
from voiceflow.processors.rag import Chunk, KnowledgeBase, RAGProcessor
from voiceflow.processors.rag.processor import DEFAULT_FALLBACK


def _spoken(sink: Collector) -> list[str]:
    return [f.text for f in sink.frames if isinstance(f, TextToSpeak)]


def _intents(sink: Collector) -> list[str]:
    return [f.intent for f in sink.frames if isinstance(f, Intent)]


def _graph(rag: RAGProcessor, sink: Collector) -> Graph:
    return Graph("rag", inputs=[Intent]).chain(rag, sink)


async def test_knowledge_question_is_answered_and_other_intents_pass(shipped_kb: KnowledgeBase) -> None:
    clock = VirtualClock()
    sink = Collector(name="sink")
    rag = RAGProcessor(name="rag", retriever=shipped_kb)
    async with GraphRun(_graph(rag, sink), clock=clock) as run:
        await run.push(
            run.make(Intent, intent="knowledge_question", confidence=0.9, text="do you ship to Mexico")
        )
        await run.push(run.make(Intent, intent="check_order", confidence=0.9, text="where is order 123"))
        await run.push(run.make(Intent, intent="knowledge_question", confidence=0.9, text="tell me a joke"))
        await clock.advance(0.1)
    spoken = _spoken(sink)
    assert len(spoken) == 2
    assert "Mexico" in spoken[0] and len(spoken[0]) <= 320
    assert spoken[1] == DEFAULT_FALLBACK
    assert _intents(sink) == ["check_order"]
    assert (rag.answered, rag.unanswered) == (1, 1)
    assert run.errors == []


async def test_forward_handled_and_no_fallback(shipped_kb: KnowledgeBase) -> None:
    clock = VirtualClock()
    sink = Collector(name="sink")
    rag = RAGProcessor(name="rag", retriever=shipped_kb, fallback=None, forward_handled=True)
    async with GraphRun(_graph(rag, sink), clock=clock) as run:
        await run.push(run.make(Intent, intent="knowledge_question", confidence=0.9, text=""))
        await run.push(
            run.make(Intent, intent="knowledge_question", confidence=0.9, text="what is your return policy")
        )
        await clock.advance(0.1)
    assert _intents(sink) == ["knowledge_question", "knowledge_question"]
    (spoken,) = _spoken(sink)
    assert "return" in spoken.lower()


class BrokenRetriever:
    """A retriever whose store is gone (the error path of a real failure)."""

    async def search(self, query: str, k: int = 3, *, min_score: float | None = None) -> list[Chunk]:
        raise OSError("index folder vanished")

    async def answer(self, query: str, *, max_sentences: int = 2) -> str | None:
        raise OSError("index folder vanished")


async def test_failing_lookup_reports_an_error_and_speaks_the_fallback() -> None:
    clock = VirtualClock()
    sink = Collector(name="sink")
    rag = RAGProcessor(name="rag", retriever=BrokenRetriever())
    async with GraphRun(_graph(rag, sink), clock=clock) as run:
        await run.push(run.make(Intent, intent="knowledge_question", confidence=0.9, text="returns?"))
        await run.push(run.make(Intent, intent="knowledge_question", confidence=0.9, text="hours?"))
        await clock.advance(0.1)
    assert _spoken(sink) == [DEFAULT_FALLBACK, DEFAULT_FALLBACK]
    assert len(run.errors) == 2 and isinstance(run.errors[0], Error)
    assert "index folder vanished" in run.errors[0].message and run.errors[0].processor == "rag"
