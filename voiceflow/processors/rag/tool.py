"""The knowledge base as a tool, so a model with function calling (Realtime, an LLM) can search it."""

from __future__ import annotations

from typing import Any

from voiceflow.processors.rag.knowledge import Retriever
from voiceflow.processors.tools.declare import ToolFn, tool
from voiceflow.processors.tools.outcome import ToolError

__all__ = ["knowledge_search_tool"]


def knowledge_search_tool(kb: Retriever) -> ToolFn:
    """``search_knowledge_base(query)`` over ``kb``: the best passages composed into a short answer."""

    @tool
    async def search_knowledge_base(query: str) -> dict[str, Any]:
        """Search Acme Home's help pages (policies, returns, warranty, shipping, store services).

        Args:
            query: The caller's question, in their words.
        """
        if not query.strip():
            raise ToolError("empty_query", "What would you like to know?")
        answer = await kb.answer(query)
        if answer is None:
            raise ToolError("no_answer", "I couldn't find that in our help pages.", query=query)
        return {"query": query, "answer": answer}

    return search_knowledge_base
