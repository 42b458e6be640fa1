"""Redaction benchmark: cost per caller turn, throughput, and the corpus figures (recall, false positives).

    .venv/bin/python benchmarks/redaction.py [--rounds 5] [--json]

Turns are the sentences of the labelled corpus (``tests/security/pii_corpus.jsonl``:
written and spoken PII of ten types and call-centre sentences without PII), each
redacted on its own as the server does with every transcript and log line;
throughput is the same text as one transcript and as log lines. Recall is per
type (every letter and digit of a labelled value masked, by a finding of that
type); false positives are findings that touch no labelled value.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from voiceflow.security.evaluation import evaluate, load_corpus  # noqa: E402
from voiceflow.security.redaction import PII_TYPES, Redactor  # noqa: E402

CORPUS = ROOT / "tests" / "security" / "pii_corpus.jsonl"


def per_turn_us(redactor: Redactor, texts: list[str], rounds: int) -> list[float]:
    samples: list[float] = []
    for _ in range(rounds):
        for text in texts:
            t0 = time.perf_counter()
            redactor.redact(text)
            samples.append((time.perf_counter() - t0) * 1e6)
    return samples


def throughput_mb_s(redactor: Redactor, text: str, rounds: int, *, lines: bool) -> float:
    parts = text.splitlines() if lines else [text]
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        for part in parts:
            redactor.redact(part)
        best = min(best, time.perf_counter() - t0)
    return len(text.encode()) / best / 1e6


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    a = ap.parse_args()

    rows = load_corpus(CORPUS)
    texts = [str(r["text"]) for r in rows]
    redactor = Redactor()
    report = evaluate(redactor, rows)
    samples = per_turn_us(redactor, texts, a.rounds)
    clean = [str(r["text"]) for r in rows if not r["spans"]]
    clean_samples = per_turn_us(redactor, clean, a.rounds)
    transcript = "\n".join(texts)
    fig: dict[str, object] = {
        "turns": len(texts),
        "mean_turn_chars": round(statistics.mean(len(t) for t in texts), 1),
        "turn_p50_us": round(statistics.median(samples), 1),
        "turn_p99_us": round(sorted(samples)[int(0.99 * len(samples))], 1),
        "clean_turn_p50_us": round(statistics.median(clean_samples), 1),
        "lines_mb_s": round(throughput_mb_s(redactor, transcript, a.rounds, lines=True), 3),
        "transcript_mb_s": round(throughput_mb_s(redactor, transcript, a.rounds, lines=False), 3),
        "recall": {k: round(report.typed_recall(k), 4) for k in PII_TYPES},
        "labelled": {k: report.labelled[k] for k in PII_TYPES},
        "false_positives": sum(report.false_positives.values()),
        "negatives": report.negatives,
        "negatives_flagged": report.negatives_flagged,
    }
    if a.json:
        print(json.dumps(fig))
        return 0
    print(f"{len(texts)} caller turns (mean {fig['mean_turn_chars']} chars), {a.rounds} rounds")
    print(f"{'measure':40} {'figure':>12}")
    for label, key in (
        ("cost per turn p50 (us)", "turn_p50_us"),
        ("cost per turn p99 (us)", "turn_p99_us"),
        ("cost per turn without PII p50 (us)", "clean_turn_p50_us"),
        ("throughput, line by line (MB/s)", "lines_mb_s"),
        ("throughput, one transcript (MB/s)", "transcript_mb_s"),
    ):
        print(f"{label:40} {fig[key]!s:>12}")
    print(f"\n{'type':18} {'labelled':>9} {'recall':>8}")
    for k in PII_TYPES:
        print(f"{k:18} {report.labelled[k]:>9} {report.typed_recall(k):>8.3f}")
    print(
        f"false positives: {fig['false_positives']} findings; {report.negatives_flagged} of "
        f"{report.negatives} sentences without PII had something masked"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
