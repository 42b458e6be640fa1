"""Exact cosine search: FAISS ``IndexFlatIP`` over normalised vectors, numpy when FAISS is absent.

Both backends do the same exhaustive inner-product search over the same
float32 vectors, so they return the same neighbours; numpy is the fallback for
installs without ``faiss-cpu``.
"""

from __future__ import annotations

import importlib
import logging
from types import ModuleType
from typing import Any, Literal

import numpy as np

log = logging.getLogger("voiceflow.rag")

Backend = Literal["faiss", "numpy"]


def load_faiss() -> ModuleType | None:
    """The faiss module, or None when it cannot be imported."""
    try:
        return importlib.import_module("faiss")
    except ImportError:
        return None


class VectorIndex:
    """Inner-product search over L2-normalised rows (that is, cosine similarity)."""

    def __init__(self, dim: int, backend: Backend | Literal["auto"] = "auto") -> None:
        self.dim = dim
        faiss = load_faiss() if backend in ("auto", "faiss") else None
        if backend == "faiss" and faiss is None:
            raise RuntimeError("the faiss backend was requested but faiss-cpu is not importable")
        if faiss is None and backend == "auto":
            log.info("faiss is not importable; using the numpy cosine search")
        self.backend: Backend = "faiss" if faiss is not None else "numpy"
        self._faiss: Any = faiss.IndexFlatIP(dim) if faiss is not None else None
        self._matrix = np.zeros((0, dim), dtype=np.float32)

    def __len__(self) -> int:
        return int(self._faiss.ntotal) if self._faiss is not None else len(self._matrix)

    def add(self, vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise ValueError(f"expected vectors of shape (n, {self.dim}), got {vectors.shape}")
        if self._faiss is not None:
            self._faiss.add(vectors)
        else:
            self._matrix = np.concatenate([self._matrix, vectors]) if len(self._matrix) else vectors.copy()

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (scores, row ids) per query, best first; missing places are id -1, score -inf."""
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        m = len(queries)
        if k <= 0 or len(self) == 0:
            return np.zeros((m, 0), dtype=np.float32), np.zeros((m, 0), dtype=np.int64)
        if self._faiss is not None:
            scores, ids = self._faiss.search(queries, k)
            scores[ids < 0] = -np.inf
            return scores, ids.astype(np.int64)
        sims = queries @ self._matrix.T
        take = min(k, sims.shape[1])
        if take < sims.shape[1]:
            part = np.argpartition(-sims, take - 1, axis=1)[:, :take]
        else:
            part = np.broadcast_to(np.arange(take), (m, take))
        part_scores = np.take_along_axis(sims, part, axis=1)
        # best first; ties broken by the lower id, as FAISS does
        order = np.lexsort((part, -part_scores), axis=1)
        ids = np.take_along_axis(part, order, axis=1).astype(np.int64)
        scores = np.take_along_axis(part_scores, order, axis=1).astype(np.float32)
        if take < k:
            ids = np.pad(ids, ((0, 0), (0, k - take)), constant_values=-1)
            scores = np.pad(scores, ((0, 0), (0, k - take)), constant_values=-np.inf)
        return scores, ids
