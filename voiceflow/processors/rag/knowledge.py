"""The knowledge base: load kb/, chunk, embed, index, and answer questions from it.

``KnowledgeBase`` is what the dialogue policy holds: ``await kb.search(query)``
returns the best chunks (empty when nothing scores above ``min_score``) and
``await kb.answer(query)`` a short spoken answer or None. The index is built on
first use, or loaded from disk when the kb, the chunking and the model are the
ones it was built from. Every model call runs on a worker thread.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

from voiceflow.config import PathSettings, section_from_env
from voiceflow.processors.rag.chunking import DEFAULT_CHUNK_CHARS, Chunk, chunk_sections, split_sentences
from voiceflow.processors.rag.documents import kb_files, load_kb
from voiceflow.processors.rag.embedder import Embedder, shared_embedder
from voiceflow.processors.rag.persist import StoredIndex, fingerprint, load_index, save_index
from voiceflow.processors.rag.vector_index import Backend, VectorIndex

log = logging.getLogger("voiceflow.rag")

#: Cosine similarity below which a chunk is not an answer. Measured on the shipped kb:
#: the 43 caller questions of tests/rag/questions.json score 0.30-0.80 on their best
#: chunk; 20 off-topic utterances score 0.07-0.30 (most under 0.2).
DEFAULT_MIN_SCORE = 0.28
DEFAULT_INDEX_DIR = PathSettings().index_dir


def default_kb_dir() -> Path:
    """``$VOICEFLOW_KB_DIR``, else the repository's ``kb/``, else ``./kb``."""
    configured = section_from_env(PathSettings).kb_dir
    if configured is not None:
        return configured
    repo_kb = Path(__file__).resolve().parents[3] / "kb"
    return repo_kb if repo_kb.is_dir() else Path("kb")


def default_index_dir() -> Path:
    """``$VOICEFLOW_INDEX_DIR`` or ``.voiceflow/index/kb``."""
    return section_from_env(PathSettings).index_dir


class Progress(Protocol):
    def __call__(self, done: int, total: int) -> None: ...


class Retriever(Protocol):
    """What a dialogue needs from a knowledge source."""

    async def search(self, query: str, k: int = 3, *, min_score: float | None = None) -> list[Chunk]: ...

    async def answer(self, query: str, *, max_sentences: int = 2) -> str | None: ...


@dataclass(slots=True)
class BuildReport:
    """How the index came to be: rebuilt (and why) or loaded, and what it holds."""

    rebuilt: bool
    reason: str
    files: int
    chunks: int
    seconds: float
    embed_seconds: float = 0.0
    index_seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)


class KnowledgeBase:
    """Semantic search over the kb folder with a persisted, content-hashed index."""

    def __init__(
        self,
        kb_dir: Path | str | None = None,
        *,
        index_dir: Path | str | None = None,
        chunk_chars: int = DEFAULT_CHUNK_CHARS,
        min_score: float = DEFAULT_MIN_SCORE,
        backend: Backend | Literal["auto"] = "auto",
        embedder: Embedder | None = None,
        persist: bool = True,
    ) -> None:
        self.kb_dir = Path(kb_dir) if kb_dir is not None else default_kb_dir()
        self.index_dir = Path(index_dir) if index_dir is not None else default_index_dir()
        self.chunk_chars = chunk_chars
        self.min_score = min_score
        self.backend_choice = backend
        self.embedder = embedder or shared_embedder()
        self.persist = persist
        self.files: list[str] = []
        self.warnings: list[str] = []
        self.report: BuildReport | None = None
        # index and chunks are swapped together, so a search during a rebuild sees one or the other
        self._state: tuple[VectorIndex, list[Chunk]] | None = None
        self._build_lock = threading.RLock()

    @property
    def ready(self) -> bool:
        return self._state is not None

    @property
    def chunks(self) -> list[Chunk]:
        """Every indexed chunk, in index order (empty before the index is loaded or built)."""
        return self._state[1] if self._state is not None else []

    @property
    def backend(self) -> str:
        return self._state[0].backend if self._state is not None else "unbuilt"

    # -- building ---------------------------------------------------------------------------
    def load_or_build(self, *, force: bool = False, progress: Progress | None = None) -> BuildReport:
        """Load the stored index when it matches the kb, else build and store it (blocking)."""
        with self._build_lock:
            started = time.perf_counter()
            files = kb_files(self.kb_dir) if self.kb_dir.is_dir() else []
            fp = fingerprint(
                self.kb_dir, files, chunk_chars=self.chunk_chars, model_id=self.embedder.model_id
            )
            reason = "rebuild forced"
            if not force and self.persist:
                stored, reason = load_index(self.index_dir, fp)
                if stored is not None:
                    index_started = time.perf_counter()
                    self._install(stored)
                    report = BuildReport(
                        rebuilt=False,
                        reason=reason,
                        files=len(stored.files),
                        chunks=len(stored.chunks),
                        seconds=time.perf_counter() - started,
                        index_seconds=time.perf_counter() - index_started,
                        warnings=list(stored.warnings),
                    )
                    self.report = report
                    return report
            elif not self.persist:
                reason = "not persisted"
            return self._build(fp, reason, started, progress)

    def _build(self, fp: str, reason: str, started: float, progress: Progress | None) -> BuildReport:
        loaded = load_kb(self.kb_dir)
        chunks = chunk_sections(loaded.sections, self.chunk_chars)
        log.info("indexing %d chunks from %d kb files (%s)", len(chunks), len(loaded.files), reason)
        total = len(chunks)
        done = 0

        def advance(n: int) -> None:
            nonlocal done
            done += n
            if progress is not None:
                progress(done, total)

        if chunks:
            self.embedder.load()  # before the progress starts, so the bar measures embedding only
        advance(0)
        embed_started = time.perf_counter()
        vectors = self.embedder.encode([c.context_text for c in chunks], progress=advance)
        embed_seconds = time.perf_counter() - embed_started
        stored = StoredIndex(fp, self.embedder.model_id, chunks, vectors, loaded.files, loaded.warnings)
        index_started = time.perf_counter()
        self._install(stored)
        index_seconds = time.perf_counter() - index_started
        if self.persist:
            try:
                save_index(self.index_dir, stored)
            except OSError as exc:  # a read-only disk costs a rebuild next time, not the answers
                message = f"could not save the index to {self.index_dir}: {exc}"
                log.warning("knowledge base: %s", message)
                self.warnings.append(message)
        self.report = BuildReport(
            rebuilt=True,
            reason=reason,
            files=len(loaded.files),
            chunks=len(chunks),
            seconds=time.perf_counter() - started,
            embed_seconds=embed_seconds,
            index_seconds=index_seconds,
            warnings=list(self.warnings),
        )
        return self.report

    def _install(self, stored: StoredIndex) -> None:
        index = VectorIndex(self.embedder.dim, self.backend_choice)
        if len(stored.vectors):
            index.add(stored.vectors)
        self.files = stored.files
        self.warnings = list(stored.warnings)
        self._state = (index, stored.chunks)

    async def prepare(self) -> BuildReport:
        """Load or build the index off the event loop (once; later calls return the report)."""
        if self.report is not None and self._state is not None:
            return self.report
        return await asyncio.to_thread(self._ensure_ready)

    def _ensure_ready(self) -> BuildReport:
        with self._build_lock:  # concurrent first callers wait for one build
            if self.report is not None and self._state is not None:
                return self.report
            return self.load_or_build()

    # -- searching --------------------------------------------------------------------------
    def _hits(self, query_vector: np.ndarray, k: int, min_score: float | None) -> list[Chunk]:
        assert self._state is not None
        index, chunks = self._state
        threshold = self.min_score if min_score is None else min_score
        scores, ids = index.search(query_vector, k)
        return [
            chunks[i].with_score(float(s))
            for s, i in zip(scores[0], ids[0], strict=True)
            if i >= 0 and s >= threshold
        ]

    def search_vector(
        self, query_vector: np.ndarray, k: int = 3, *, min_score: float | None = None
    ) -> list[Chunk]:
        """``search`` for an already embedded query (shape ``(dim,)`` or ``(1, dim)``)."""
        self._ensure_ready()
        return self._hits(np.atleast_2d(query_vector), k, min_score)

    def search_sync(self, query: str, k: int = 3, *, min_score: float | None = None) -> list[Chunk]:
        """Blocking ``search`` for scripts, commands and benchmarks."""
        self._ensure_ready()
        if not query.strip():
            return []
        return self._hits(self.embedder.encode([query]), k, min_score)

    async def search(self, query: str, k: int = 3, *, min_score: float | None = None) -> list[Chunk]:
        """The ``k`` chunks most similar to ``query`` scoring at least ``min_score``, best first.

        ``min_score`` defaults to the knowledge base's; an empty list means no good
        match. Pass ``min_score=-1.0`` to get the top ``k`` whatever their score.
        """
        await self.prepare()
        if not query.strip():
            return []
        return self._hits(await self.embedder.encode_async([query]), k, min_score)

    # -- answering --------------------------------------------------------------------------
    def _compose(self, query_vector: np.ndarray, hits: Sequence[Chunk], max_sentences: int) -> str | None:
        """The run of ``max_sentences`` consecutive sentences of the best chunk closest to the query."""
        if not hits:
            return None
        sentences = split_sentences(hits[0].text)
        if len(sentences) <= max_sentences:
            return hits[0].text
        context = hits[0].heading.replace(" > ", ": ")
        vectors = self.embedder.encode([f"{context}. {s}" if context else s for s in sentences])
        sims = vectors @ query_vector[0]
        window = np.convolve(sims, np.ones(max_sentences), mode="valid")
        start = int(np.argmax(window))
        return " ".join(sentences[start : start + max_sentences])

    def answer_sync(self, query: str, *, max_sentences: int = 2) -> str | None:
        self._ensure_ready()
        if not query.strip():
            return None
        query_vector = self.embedder.encode([query])
        return self._compose(query_vector, self._hits(query_vector, 1, None), max_sentences)

    async def answer(self, query: str, *, max_sentences: int = 2) -> str | None:
        """A short spoken answer (about ``max_sentences`` sentences), or None when nothing matches."""
        await self.prepare()
        if not query.strip():
            return None
        return await asyncio.to_thread(self.answer_sync, query, max_sentences=max_sentences)
