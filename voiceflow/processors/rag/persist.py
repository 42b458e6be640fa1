"""The index on disk: vectors (``.npy``) plus chunk metadata (``chunks.json``).

An index is valid only for the exact kb content, chunking parameters, model and
loader/chunker code that built it; all of these go into one fingerprint stored
in the manifest. A stale, partial or corrupt index is reported as missing (with
the reason) and the caller rebuilds it. Writes are atomic (temporary file then
rename), vectors first and manifest last, and the vectors file is named after
the fingerprint, so a reader never pairs a manifest with another build's vectors.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from voiceflow.processors.rag import chunking, documents
from voiceflow.processors.rag.chunking import Chunk

FORMAT_VERSION = 1
MANIFEST_NAME = "chunks.json"


def fingerprint(kb_dir: Path, files: Sequence[Path], *, chunk_chars: int, model_id: str) -> str:
    """Content hash of the kb files, the chunking parameters, the model and the loader code."""
    digest = hashlib.sha256()
    params = {"format": FORMAT_VERSION, "chunk_chars": chunk_chars, "model": model_id}
    digest.update(json.dumps(params, sort_keys=True).encode())
    for module in (documents, chunking):  # a loader or chunker change re-chunks the kb
        if module.__file__:
            digest.update(hashlib.sha256(Path(module.__file__).read_bytes()).digest())
    for path in files:
        digest.update(path.relative_to(kb_dir).as_posix().encode() + b"\0")
        try:
            digest.update(hashlib.sha256(path.read_bytes()).digest())
        except OSError as exc:  # an unreadable file still changes the hash when it becomes readable
            digest.update(f"unreadable:{exc.errno}".encode())
    return digest.hexdigest()


@dataclass(slots=True)
class StoredIndex:
    fingerprint: str
    model_id: str
    chunks: list[Chunk]
    vectors: np.ndarray
    files: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _atomic_write(path: Path, write: Any, suffix: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_index(index_dir: Path, stored: StoredIndex) -> None:
    index_dir.mkdir(parents=True, exist_ok=True)
    vectors_name = f"vectors-{stored.fingerprint[:16]}.npy"
    _atomic_write(
        index_dir / vectors_name,
        lambda fh: np.save(fh, np.ascontiguousarray(stored.vectors, dtype=np.float32)),
        ".npy",
    )
    manifest = {
        "format": FORMAT_VERSION,
        "fingerprint": stored.fingerprint,
        "model_id": stored.model_id,
        "vectors": vectors_name,
        "dim": int(stored.vectors.shape[1]) if stored.vectors.ndim == 2 else 0,
        "files": stored.files,
        "warnings": stored.warnings,
        "chunks": [{"text": c.text, "source": c.source, "heading": c.heading} for c in stored.chunks],
    }
    payload = json.dumps(manifest, indent=1, ensure_ascii=False).encode()
    _atomic_write(index_dir / MANIFEST_NAME, lambda fh: fh.write(payload), ".json")
    for old in index_dir.glob("vectors-*.npy"):
        if old.name != vectors_name:
            old.unlink(missing_ok=True)


def load_index(index_dir: Path, expected_fingerprint: str) -> tuple[StoredIndex | None, str]:
    """The stored index if it matches ``expected_fingerprint``, else None and why not."""
    manifest_path = index_dir / MANIFEST_NAME
    if not manifest_path.is_file():
        return None, "no index on disk"
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if manifest.get("format") != FORMAT_VERSION:
            return None, "index format changed"
        if manifest.get("fingerprint") != expected_fingerprint:
            return None, "kb content, chunking or model changed"
        vectors = np.load(index_dir / manifest["vectors"], allow_pickle=False)
        chunks = [
            Chunk(text=c["text"], source=c["source"], heading=c["heading"], index=i)
            for i, c in enumerate(manifest["chunks"])
        ]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return None, f"index unreadable ({type(exc).__name__}: {exc})"
    if vectors.ndim != 2 or len(vectors) != len(chunks):
        return None, f"index damaged ({vectors.shape} vectors for {len(chunks)} chunks)"
    stored = StoredIndex(
        fingerprint=expected_fingerprint,
        model_id=str(manifest.get("model_id", "")),
        chunks=chunks,
        vectors=np.ascontiguousarray(vectors, dtype=np.float32),
        files=list(manifest.get("files", [])),
        warnings=list(manifest.get("warnings", [])),
    )
    return stored, "loaded"
