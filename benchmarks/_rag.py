"""RAG figures: index build time, query latency and recall on the shipped kb and a synthetic kb.

Imported by benchmarks/nlu.py (``rag_figures``); also runnable on its own:
``.venv/bin/python benchmarks/_rag.py [--quick] [--json]``.

The synthetic kb is generated deterministically (seeded) as Markdown files whose
sections are one chunk each, so the full run indexes 10 000 chunks (``--quick``:
1 000) through the real loaders, chunker, MiniLM and FAISS. Building it is
dominated by embedding; the FAISS add is reported separately.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from voiceflow.processors.rag import KnowledgeBase, shared_embedder  # noqa: E402
from voiceflow.processors.rag.evaluation import load_questions, recall_at_k  # noqa: E402

SYNTH_CHUNKS = 10_000
SYNTH_CHUNKS_QUICK = 1_000
SECTIONS_PER_FILE = 200

_SUBJECTS = (
    "orders refunds deliveries appointments warranties invoices showrooms returns exchanges accounts".split()
)
_ADJECTIVES = "standard express seasonal regional premium custom weekend holiday bulk online".split()
_NOUNS = "sofas lamps mattresses rugs tables chairs ovens dryers shelves curtains desks mirrors".split()
_VERBS = "ship arrive renew expire qualify reopen transfer upgrade".split()
_UNITS = "business days hours weeks months".split()


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _sentence(rng: random.Random) -> str:
    adj, noun, subject = rng.choice(_ADJECTIVES), rng.choice(_NOUNS), rng.choice(_SUBJECTS)
    n, unit, verb = rng.randint(2, 90), rng.choice(_UNITS), rng.choice(_VERBS)
    return rng.choice(
        [
            f"{adj.capitalize()} {noun} {verb} within {n} {unit} for {subject} placed before noon.",
            f"For {adj} {subject}, {noun} usually {verb} after {n} {unit} unless the customer says so.",
            f"Customers with {adj} {noun} can ask about {subject} during the first {n} {unit}.",
            f"The {adj} plan for {noun} covers {subject} for {n} {unit} at no extra cost.",
        ]
    )


def write_synthetic_kb(root: Path, chunks: int, seed: int = 1234) -> list[str]:
    """Markdown files with ``chunks`` one-chunk sections; returns up to 100 queries about them."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    queries: list[str] = []
    for file_no in range((chunks + SECTIONS_PER_FILE - 1) // SECTIONS_PER_FILE):
        lines = [f"# Policy book {file_no}", ""]
        for section_no in range(min(SECTIONS_PER_FILE, chunks - file_no * SECTIONS_PER_FILE)):
            body = _sentence(rng)
            while len(body) < 170:
                body = f"{body} {_sentence(rng)}"
            while len(body) > 290:  # one section = one chunk
                body = _sentence(rng)
            lines += [f"## {rng.choice(_SUBJECTS).capitalize()} rule {file_no}.{section_no}", "", body, ""]
            if section_no % 20 == 0 and len(queries) < 100:
                queries.append(
                    f"how long do {rng.choice(_NOUNS)} take to {rng.choice(_VERBS)} for {body[:30]}"
                )
        (root / f"book_{file_no:03d}.md").write_text("\n".join(lines), encoding="utf-8")
    return queries


def _query_latencies(kb: KnowledgeBase, queries: list[str], rounds: int) -> tuple[list[float], list[float]]:
    """End-to-end search (embed + index) and index-only search latencies, in ms."""
    total: list[float] = []
    index_only: list[float] = []
    vectors = kb.embedder.encode(queries)
    for _ in range(rounds):
        for query, vector in zip(queries, vectors, strict=True):
            started = time.perf_counter()
            kb.search_sync(query, 3, min_score=-1.0)
            total.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            kb.search_vector(vector, 3, min_score=-1.0)
            index_only.append((time.perf_counter() - started) * 1000)
    return total, index_only


def rag_figures(quick: bool = False) -> dict[str, float]:
    """Build time, query latency p50/p99 and recall for the shipped kb and a synthetic kb."""
    figures: dict[str, float] = {}
    embedder = shared_embedder()
    started = time.perf_counter()
    embedder.load()
    figures["rag_model_load_s"] = time.perf_counter() - started
    questions = load_questions()
    with tempfile.TemporaryDirectory(prefix="voiceflow-rag-bench-") as tmp:
        shipped = KnowledgeBase(REPO / "kb", index_dir=Path(tmp) / "shipped", embedder=embedder)
        report = shipped.load_or_build(force=True)
        figures["rag_shipped_chunks"] = float(report.chunks)
        figures["rag_shipped_build_s"] = report.seconds
        figures["rag_shipped_embed_s"] = report.embed_seconds
        reload = KnowledgeBase(REPO / "kb", index_dir=Path(tmp) / "shipped", embedder=embedder)
        figures["rag_shipped_load_ms"] = reload.load_or_build().seconds * 1000
        total, index_only = _query_latencies(shipped, [q.question for q in questions], 1 if quick else 3)
        figures["rag_query_p50_ms"] = _pct(total, 0.5)
        figures["rag_query_p99_ms"] = _pct(total, 0.99)
        figures["rag_search_only_p50_ms"] = _pct(index_only, 0.5)
        answers: list[float] = []
        for question in questions[: 10 if quick else len(questions)]:
            started = time.perf_counter()
            shipped.answer_sync(question.question)
            answers.append((time.perf_counter() - started) * 1000)
        figures["rag_answer_p50_ms"] = _pct(answers, 0.5)
        figures["rag_recall_at_1"] = recall_at_k(shipped, questions, k=1).recall
        figures["rag_recall_at_3"] = recall_at_k(shipped, questions, k=3).recall

        n = SYNTH_CHUNKS_QUICK if quick else SYNTH_CHUNKS
        queries = write_synthetic_kb(Path(tmp) / "synthetic", n)
        synthetic = KnowledgeBase(
            Path(tmp) / "synthetic", index_dir=Path(tmp) / "synthetic-index", embedder=embedder
        )
        report = synthetic.load_or_build(force=True)
        figures["rag_synth_chunks"] = float(report.chunks)
        figures["rag_synth_build_s"] = report.seconds
        figures["rag_synth_embed_s"] = report.embed_seconds
        figures["rag_synth_faiss_add_ms"] = report.index_seconds * 1000
        figures["rag_synth_embed_chunks_per_s"] = (
            report.chunks / report.embed_seconds if report.embed_seconds else 0.0
        )
        total, index_only = _query_latencies(synthetic, queries, 1 if quick else 3)
        figures["rag_synth_query_p50_ms"] = _pct(total, 0.5)
        figures["rag_synth_query_p99_ms"] = _pct(total, 0.99)
        figures["rag_synth_search_only_p50_ms"] = _pct(index_only, 0.5)
        figures["rag_synth_search_only_p99_ms"] = _pct(index_only, 0.99)
    return figures


def _table(figures: dict[str, float]) -> str:
    width = max(len(k) for k in figures)
    rows = [f"{'figure':<{width}}  value", f"{'-' * width}  ----------"]
    rows += [f"{name:<{width}}  {value:10.3f}" for name, value in figures.items()]
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--quick", action="store_true", help=f"{SYNTH_CHUNKS_QUICK} synthetic chunks, one round"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = parser.parse_args(argv)
    figures = rag_figures(quick=args.quick)
    print(json.dumps(figures) if args.json else _table(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
