"""``voiceflow kb index`` and ``voiceflow kb query`` run in-process on a tmp kb."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.rag.rag_helpers import write_kb
from voiceflow.cli import main
from voiceflow.processors.rag.persist import MANIFEST_NAME

FILES = {
    "shipping.md": (
        "# Shipping\n\n## International\n\nWe ship to Canada and Mexico. Duties are paid by the customer.\n"
    ),
    "hours.html": "<h1>Hours</h1><p>Support is open weekdays from 8 AM to 8 PM.</p><script>x()</script>",
    "rates.csv": "Zone,Cost\nZone 1,$5.99\n",
    "broken.json": "{nope",
}


def test_kb_index_builds_then_reuses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    kb_dir = write_kb(tmp_path / "kb", FILES)
    out = tmp_path / "index"
    assert main(["kb", "index", "--kb", str(kb_dir), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "index built: 3 chunks from 3 files" in captured.out
    assert "embedding" in captured.err and "3/3" in captured.err  # the tqdm bar
    assert "warning: skipped broken.json" in captured.err
    manifest = json.loads((out / MANIFEST_NAME).read_text(encoding="utf-8"))
    assert {c["source"] for c in manifest["chunks"]} == {"shipping.md", "hours.html", "rates.csv"}

    assert main(["kb", "index", "--kb", str(kb_dir), "--out", str(out)]) == 0
    assert "up to date, loaded: 3 chunks" in capsys.readouterr().out

    assert main(["kb", "index", "--kb", str(kb_dir), "--out", str(out), "--force", "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert (
        "index built" in captured.out and "rebuild forced" in captured.out and "embedding" not in captured.err
    )


def test_kb_query_prints_chunks_and_answer(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    kb_dir = write_kb(tmp_path / "kb", FILES)
    args = ["kb", "query", "--kb", str(kb_dir), "--out", str(tmp_path / "index")]
    assert main([*args, "-k", "2", "who pays customs on orders to Canada"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("1. ") and "shipping.md | Shipping > International" in out
    assert "answer: We ship to Canada and Mexico. Duties are paid by the customer." in out


def test_kb_index_on_a_missing_folder_fails_cleanly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["kb", "index", "--kb", str(tmp_path / "missing"), "--out", str(tmp_path / "i")]) == 2
    assert "no knowledge base folder" in capsys.readouterr().err
