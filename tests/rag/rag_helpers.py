"""Helpers for the RAG tests (not fixtures): building small kb folders on disk."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path


def write_kb(root: Path, files: Mapping[str, str | bytes]) -> Path:
    """A small kb folder with the given files (text or raw bytes)."""
    root.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root
