"""``voiceflow kb index|query``: build the knowledge-base index, ask it a question.

``index`` loads the stored index when the kb, chunking and model are unchanged,
else re-embeds every chunk with a progress bar; ``query`` prints the best chunks
and the short answer the agent would speak.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("kb", help="build and query the knowledge-base index (RAG)")
    commands = parser.add_subparsers(dest="kb_command", metavar="ACTION", required=True)

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--kb", type=Path, default=None, help="knowledge base folder (default: kb/)")
        sub.add_argument("--out", type=Path, default=None, help="index folder (default: .voiceflow/index/kb)")
        sub.add_argument("--chunk-chars", type=int, default=None, help="chunk size limit in characters")

    index = commands.add_parser("index", help="build the index (or load it when it is up to date)")
    common(index)
    index.add_argument("--force", action="store_true", help="rebuild even when the index is up to date")
    index.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    index.set_defaults(func=run_index)

    query = commands.add_parser("query", help="show the best chunks and the spoken answer for a question")
    common(query)
    query.add_argument("question", help="the question, in quotes")
    query.add_argument("-k", type=int, default=3, help="how many chunks to show")
    query.set_defaults(func=run_query)


def _open(args: argparse.Namespace) -> Any:
    from voiceflow.processors.rag import KnowledgeBase
    from voiceflow.processors.rag.chunking import DEFAULT_CHUNK_CHARS

    chunk_chars = args.chunk_chars or DEFAULT_CHUNK_CHARS
    if chunk_chars < 20:
        raise SystemExit("voiceflow kb: --chunk-chars must be at least 20")
    return KnowledgeBase(args.kb, index_dir=args.out, chunk_chars=chunk_chars)


def _print_warnings(warnings: list[str], stream: TextIO) -> None:
    for warning in warnings:
        print(f"warning: {warning}", file=stream)


def run_index(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    kb = _open(args)
    if not kb.kb_dir.is_dir():
        print(f"voiceflow kb: no knowledge base folder at {kb.kb_dir}", file=sys.stderr)
        return 2
    bar: tqdm[Any] | None = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if args.no_progress:
            return
        if bar is None:
            bar = tqdm(total=total, unit="chunk", desc="embedding", file=sys.stderr)
        bar.update(done - bar.n)

    try:
        report = kb.load_or_build(force=args.force, progress=progress)
    finally:
        if bar is not None:
            bar.close()
    _print_warnings(report.warnings, sys.stderr)
    action = "built" if report.rebuilt else "up to date, loaded"
    print(
        f"index {action}: {report.chunks} chunks from {report.files} files in {report.seconds:.2f} s "
        f"({report.reason}; backend {kb.backend}) -> {kb.index_dir}"
    )
    return 0


def run_query(args: argparse.Namespace) -> int:
    kb = _open(args)
    kb.load_or_build()
    _print_warnings(kb.warnings, sys.stderr)
    hits = kb.search_sync(args.question, args.k, min_score=-1.0)
    for rank, chunk in enumerate(hits, start=1):
        flag = "" if chunk.score >= kb.min_score else "  (below min_score)"
        print(f"{rank}. {chunk.score:.3f} {chunk.source} | {chunk.heading}{flag}\n   {chunk.text}")
    answer = kb.answer_sync(args.question)
    print(f"answer: {answer if answer else '(no good match)'}")
    return 0
