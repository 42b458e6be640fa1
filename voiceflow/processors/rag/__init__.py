"""Retrieval over the shipped knowledge base (kb/): loaders, chunking, MiniLM, FAISS.

Heavy imports (sentence-transformers, torch, faiss) happen on first use, not here.
"""

from voiceflow.processors.rag.chunking import Chunk, chunk_sections, chunk_text, split_sentences
from voiceflow.processors.rag.documents import LoadResult, Section, load_kb
from voiceflow.processors.rag.embedder import Embedder, shared_embedder
from voiceflow.processors.rag.knowledge import (
    DEFAULT_MIN_SCORE,
    BuildReport,
    KnowledgeBase,
    Retriever,
    default_index_dir,
    default_kb_dir,
)
from voiceflow.processors.rag.processor import RAGProcessor
from voiceflow.processors.rag.vector_index import VectorIndex

__all__ = [
    "DEFAULT_MIN_SCORE",
    "BuildReport",
    "Chunk",
    "Embedder",
    "KnowledgeBase",
    "LoadResult",
    "RAGProcessor",
    "Retriever",
    "Section",
    "VectorIndex",
    "chunk_sections",
    "chunk_text",
    "default_index_dir",
    "default_kb_dir",
    "load_kb",
    "shared_embedder",
    "split_sentences",
]
