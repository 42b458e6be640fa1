"""RAGProcessor: speaks a knowledge-base answer for ``knowledge_question`` intents.

The offline dialogue policy calls the knowledge base directly; this processor is
for pipelines that want knowledge answers without a policy. Other intents pass
through untouched. A failing lookup never escapes into the graph: it is reported
upstream as an Error and the caller hears the fallback line.
"""

from __future__ import annotations

from collections.abc import Iterable

from voiceflow.frames import Intent, TextToSpeak
from voiceflow.processors import Processor, on
from voiceflow.processors.rag.knowledge import KnowledgeBase, Retriever

DEFAULT_FALLBACK = (
    "I'm sorry, I don't have information about that. Would you like me to connect you to a person?"
)


class RAGProcessor(Processor):
    """Intent(knowledge_question) → TextToSpeak(answer from the kb)."""

    produces = (TextToSpeak,)

    def __init__(
        self,
        *,
        name: str | None = None,
        retriever: Retriever | None = None,
        intents: Iterable[str] = ("knowledge_question",),
        fallback: str | None = DEFAULT_FALLBACK,
        max_sentences: int = 2,
        forward_handled: bool = False,
    ) -> None:
        super().__init__(name=name)
        self.retriever: Retriever = retriever if retriever is not None else KnowledgeBase()
        self.intents = frozenset(intents)
        self.fallback = fallback
        self.max_sentences = max_sentences
        self.forward_handled = forward_handled
        self.answered = 0
        self.unanswered = 0

    async def setup(self) -> None:
        prepare = getattr(self.retriever, "prepare", None)
        if prepare is not None:
            await prepare()  # load or build the index before the first caller asks

    @on(Intent)
    async def intent(self, frame: Intent) -> None:
        if frame.intent not in self.intents:
            await self.push(frame)
            return
        if self.forward_handled:
            await self.push(frame)
        question = frame.text.strip()
        answer: str | None = None
        if question:
            try:
                answer = await self.retriever.answer(question, max_sentences=self.max_sentences)
            except Exception as exc:
                await self.report_error(f"knowledge lookup failed: {exc}", exception=exc)
        if answer:
            self.answered += 1
            await self.push(TextToSpeak(text=answer))
            return
        self.unanswered += 1
        if self.fallback:
            await self.push(TextToSpeak(text=self.fallback))
