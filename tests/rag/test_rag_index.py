"""The vector index: FAISS and the numpy fallback agree, on random and on real MiniLM vectors."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from voiceflow.processors.rag import Embedder, KnowledgeBase
from voiceflow.processors.rag.embedder import EMBEDDING_DIM, normalize_rows
from voiceflow.processors.rag.evaluation import load_questions
from voiceflow.processors.rag.vector_index import VectorIndex


def test_faiss_is_the_default_backend() -> None:
    assert VectorIndex(8).backend == "faiss"


def test_numpy_fallback_when_faiss_cannot_be_imported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "faiss", None)  # import faiss -> ImportError
    assert VectorIndex(8).backend == "numpy"
    with pytest.raises(RuntimeError, match="faiss"):
        VectorIndex(8, backend="faiss")


def test_faiss_and_numpy_return_the_same_neighbours_on_random_vectors() -> None:
    rng = np.random.default_rng(7)
    data = normalize_rows(rng.standard_normal((500, 32)))
    queries = normalize_rows(rng.standard_normal((20, 32)))
    fast, slow = VectorIndex(32, "faiss"), VectorIndex(32, "numpy")
    fast.add(data[:300])
    fast.add(data[300:])
    slow.add(data[:300])
    slow.add(data[300:])
    assert len(fast) == len(slow) == 500
    f_scores, f_ids = fast.search(queries, 5)
    n_scores, n_ids = slow.search(queries, 5)
    assert np.array_equal(f_ids, n_ids)
    np.testing.assert_allclose(f_scores, n_scores, atol=1e-5)
    # exact cosine, best first
    expected = np.sort(queries @ data.T, axis=1)[:, ::-1][:, :5]
    np.testing.assert_allclose(n_scores, expected, atol=1e-5)


@pytest.mark.parametrize("backend", ["faiss", "numpy"])
def test_fewer_vectors_than_k_pads_with_minus_one(backend: str) -> None:
    index = VectorIndex(4, backend)  # type: ignore[arg-type]
    assert index.search(np.ones((1, 4), dtype=np.float32), 3)[1].shape == (1, 0)
    index.add(normalize_rows(np.eye(4, dtype=np.float32)[:2]))
    scores, ids = index.search(normalize_rows(np.ones((1, 4))), 3)
    assert sorted(ids[0][:2].tolist()) == [0, 1] and ids[0][2] == -1 and scores[0][2] == -np.inf


def test_wrong_dimension_is_rejected() -> None:
    with pytest.raises(ValueError, match="shape"):
        VectorIndex(4, "numpy").add(np.ones((2, 5), dtype=np.float32))


def test_minilm_vectors_are_normalised_and_semantic(embedder: Embedder) -> None:
    vectors = embedder.encode(
        ["When are you open on Saturday?", "Saturday opening hours", "Refund to my card"]
    )
    assert vectors.shape == (3, EMBEDDING_DIM) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    sims = vectors @ vectors.T
    assert sims[0, 1] > sims[0, 2] + 0.2
    assert embedder.encode([]).shape == (0, EMBEDDING_DIM)


def test_forced_numpy_fallback_returns_the_same_chunks_as_faiss(
    shipped_kb: KnowledgeBase, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "faiss", None)
    fallback = KnowledgeBase(shipped_kb.kb_dir, index_dir=shipped_kb.index_dir, embedder=embedder)
    report = fallback.load_or_build()
    assert not report.rebuilt and fallback.backend == "numpy" and shipped_kb.backend == "faiss"
    queries = embedder.encode([q.question for q in load_questions()])
    for query in queries:
        fast = shipped_kb.search_vector(query, 5, min_score=-1.0)
        slow = fallback.search_vector(query, 5, min_score=-1.0)
        assert [c.id for c in fast] == [c.id for c in slow]
        np.testing.assert_allclose([c.score for c in fast], [c.score for c in slow], atol=1e-5)
