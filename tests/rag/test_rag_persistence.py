"""The persisted index: reused while the kb is unchanged, rebuilt when its content hash moves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.rag.rag_helpers import write_kb
from voiceflow.processors.rag import Embedder, KnowledgeBase
from voiceflow.processors.rag.persist import MANIFEST_NAME

FILES = {
    "returns.md": "# Returns\n\n## Window\n\nYou can return items within 30 days. Members get 60 days.\n",
    "hours.txt": "Hours\n\nSupport is open weekdays from 8 AM to 8 PM. We are closed on Sundays.\n",
    "faq.json": '[{"question": "Do gift cards expire?", "answer": "Gift cards never expire."}]',
}


def _kb(tmp_path: Path, embedder: Embedder, **kwargs: object) -> KnowledgeBase:
    return KnowledgeBase(tmp_path / "kb", index_dir=tmp_path / "index", embedder=embedder, **kwargs)  # type: ignore[arg-type]


def test_unchanged_kb_loads_without_re_embedding(tmp_path: Path, embedder: Embedder) -> None:
    write_kb(tmp_path / "kb", FILES)
    first = _kb(tmp_path, embedder)
    before = embedder.texts_encoded
    report = first.load_or_build()
    assert report.rebuilt and report.reason == "no index on disk"
    assert embedder.texts_encoded - before == report.chunks == len(first.chunks) >= 3
    assert (tmp_path / "index" / MANIFEST_NAME).is_file()
    assert len(list((tmp_path / "index").glob("vectors-*.npy"))) == 1

    before = embedder.texts_encoded
    second = _kb(tmp_path, embedder)
    report = second.load_or_build()
    assert not report.rebuilt and report.reason == "loaded"
    assert embedder.texts_encoded == before  # nothing re-embedded
    assert [(c.source, c.heading, c.text) for c in second.chunks] == [
        (c.source, c.heading, c.text) for c in first.chunks
    ]
    query = "when does support close"
    assert [c.id for c in second.search_sync(query)] == [c.id for c in first.search_sync(query)]


def test_changed_file_rebuilds(tmp_path: Path, embedder: Embedder) -> None:
    kb_dir = write_kb(tmp_path / "kb", FILES)
    _kb(tmp_path, embedder).load_or_build()
    (kb_dir / "hours.txt").write_text(
        "Hours\n\nSupport is open every day from 7 AM to 11 PM.\n", encoding="utf-8"
    )
    before = embedder.texts_encoded
    kb = _kb(tmp_path, embedder)
    report = kb.load_or_build()
    assert report.rebuilt and "changed" in report.reason
    assert embedder.texts_encoded > before
    assert any("11 PM" in c.text for c in kb.chunks)
    assert len(list((tmp_path / "index").glob("vectors-*.npy"))) == 1  # the stale vectors are gone


def test_added_or_removed_file_rebuilds(tmp_path: Path, embedder: Embedder) -> None:
    kb_dir = write_kb(tmp_path / "kb", FILES)
    _kb(tmp_path, embedder).load_or_build()
    write_kb(kb_dir, {"privacy.md": "# Privacy\n\nCalls are recorded for quality.\n"})
    assert _kb(tmp_path, embedder).load_or_build().rebuilt
    (kb_dir / "faq.json").unlink()
    kb = _kb(tmp_path, embedder)
    assert kb.load_or_build().rebuilt
    assert "faq.json" not in {c.source for c in kb.chunks}


def test_chunking_parameters_are_part_of_the_hash(tmp_path: Path, embedder: Embedder) -> None:
    write_kb(tmp_path / "kb", FILES)
    _kb(tmp_path, embedder).load_or_build()
    assert _kb(tmp_path, embedder, chunk_chars=40).load_or_build().rebuilt
    assert not _kb(tmp_path, embedder, chunk_chars=40).load_or_build().rebuilt


@pytest.mark.parametrize("damage", ["manifest", "vectors"])
def test_damaged_index_is_rebuilt(tmp_path: Path, embedder: Embedder, damage: str) -> None:
    write_kb(tmp_path / "kb", FILES)
    _kb(tmp_path, embedder).load_or_build()
    index_dir = tmp_path / "index"
    if damage == "manifest":
        (index_dir / MANIFEST_NAME).write_text("{not json", encoding="utf-8")
    else:
        (vectors,) = index_dir.glob("vectors-*.npy")
        vectors.write_bytes(b"garbage")
    report = _kb(tmp_path, embedder).load_or_build()
    assert report.rebuilt and "unreadable" in report.reason


def test_warnings_of_malformed_files_survive_a_reload(tmp_path: Path, embedder: Embedder) -> None:
    write_kb(tmp_path / "kb", {**FILES, "bad.json": "{oops"})
    built = _kb(tmp_path, embedder)
    built.load_or_build()
    loaded = _kb(tmp_path, embedder)
    assert not loaded.load_or_build().rebuilt
    for kb in (built, loaded):
        assert len(kb.warnings) == 1 and "bad.json" in kb.warnings[0]
        assert {c.source for c in kb.chunks} == {"returns.md", "hours.txt", "faq.json"}
    manifest = json.loads((tmp_path / "index" / MANIFEST_NAME).read_text(encoding="utf-8"))
    assert manifest["files"] == ["faq.json", "hours.txt", "returns.md"]


def test_persist_false_never_writes(tmp_path: Path, embedder: Embedder) -> None:
    write_kb(tmp_path / "kb", FILES)
    kb = _kb(tmp_path, embedder, persist=False)
    assert kb.load_or_build().rebuilt
    assert not (tmp_path / "index").exists()


def test_empty_kb_builds_an_empty_index(tmp_path: Path, embedder: Embedder) -> None:
    (tmp_path / "kb").mkdir()
    kb = _kb(tmp_path, embedder)
    assert kb.load_or_build().chunks == 0
    assert kb.search_sync("anything") == [] and kb.answer_sync("anything") is None
    assert not _kb(tmp_path, embedder).load_or_build().rebuilt
