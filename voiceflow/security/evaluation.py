"""Redaction measured on a labelled corpus: recall per type, false positives.

A labelled span counts as caught when every letter and digit in it lies inside a
finding (what matters for leakage: nothing of it survives); ``typed`` recall also
needs the finding to have the labelled type. A false positive is a finding that
touches no labelled span. Used by the tests and ``benchmarks/redaction.py``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from voiceflow.security.redaction import PII_TYPES, Finding, Redactor

__all__ = ["CorpusReport", "evaluate", "load_corpus"]


def load_corpus(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@dataclass
class CorpusReport:
    labelled: Counter[str] = field(default_factory=Counter)
    caught: Counter[str] = field(default_factory=Counter)
    typed: Counter[str] = field(default_factory=Counter)
    false_positives: Counter[str] = field(default_factory=Counter)
    negatives: int = 0
    negatives_flagged: int = 0
    missed: list[tuple[str, str]] = field(default_factory=list)  # (type, text)
    spurious: list[tuple[str, str]] = field(default_factory=list)  # (type, matched text)

    def recall(self, kind: str) -> float:
        return self.caught[kind] / self.labelled[kind] if self.labelled[kind] else 1.0

    def typed_recall(self, kind: str) -> float:
        return self.typed[kind] / self.labelled[kind] if self.labelled[kind] else 1.0

    def as_json(self) -> dict[str, Any]:
        return {
            "per_type": {
                k: {
                    "labelled": self.labelled[k],
                    "recall": round(self.recall(k), 4),
                    "typed_recall": round(self.typed_recall(k), 4),
                    "false_positives": self.false_positives[k],
                }
                for k in PII_TYPES
            },
            "negatives": self.negatives,
            "negatives_flagged": self.negatives_flagged,
            "false_positives_total": sum(self.false_positives.values()),
        }


def _covered(text: str, start: int, end: int, findings: Iterable[Finding]) -> bool:
    spans = list(findings)
    return all(any(f.start <= i < f.end for f in spans) for i in range(start, end) if text[i].isalnum())


def evaluate(redactor: Redactor, rows: Iterable[Mapping[str, Any]]) -> CorpusReport:
    report = CorpusReport()
    for row in rows:
        text: str = row["text"]
        gold = row["spans"]
        findings = redactor.find(text)
        if not gold:
            report.negatives += 1
            report.negatives_flagged += bool(findings)
        for span in gold:
            kind, s, e = span["type"], span["start"], span["end"]
            report.labelled[kind] += 1
            if _covered(text, s, e, findings):
                report.caught[kind] += 1
                if _covered(text, s, e, [f for f in findings if f.type == kind]):
                    report.typed[kind] += 1
            else:
                report.missed.append((kind, text))
        for f in findings:
            if not any(f.start < sp["end"] and sp["start"] < f.end for sp in gold):
                report.false_positives[f.type] += 1
                report.spurious.append((f.type, text[f.start : f.end]))
    return report
