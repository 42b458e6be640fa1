"""Shared RAG fixtures: the real MiniLM (loaded once) and the shipped kb's index.

The shipped kb's index is cached under .voiceflow/cache/rag so reruns load it
instead of re-embedding (the content hash rebuilds it when kb/ changes).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from voiceflow.processors.rag import Embedder, KnowledgeBase, shared_embedder

REPO = Path(__file__).resolve().parents[2]
SHIPPED_KB = REPO / "kb"
CACHE = REPO / ".voiceflow" / "cache" / "rag"


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    emb = shared_embedder()
    emb.load()
    return emb


@pytest.fixture(scope="session")
def shipped_kb(embedder: Embedder) -> KnowledgeBase:
    kb = KnowledgeBase(SHIPPED_KB, index_dir=CACHE / "shipped-index", embedder=embedder)
    kb.load_or_build()
    return kb
