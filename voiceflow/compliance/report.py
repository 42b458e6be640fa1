"""The audit report: control results, a risk score (0 = no risk found, 100 = everything failing), a grade.

Each control weighs by its severity (critical 10, high 6, medium 3, low 1); a failure
costs its full weight, a warning half. The score is the cost as a share of the
total. Grade: A < 10, B < 25, C < 45, D < 65, else F; a failed critical control caps
the grade at D. JSON for machines, HTML (self-contained, escaped) for people.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from voiceflow.compliance.controls import Deployment, Result, run_controls

__all__ = ["AuditReport", "audit", "grade_for"]

WEIGHTS = {"critical": 10, "high": 6, "medium": 3, "low": 1}
COST = {"pass": 0.0, "warn": 0.5, "fail": 1.0}
GRADES = ((10, "A"), (25, "B"), (45, "C"), (65, "D"))


def grade_for(score: float, critical_failed: bool) -> str:
    grade = next((g for limit, g in GRADES if score < limit), "F")
    if critical_failed and grade in ("A", "B", "C"):
        return "D"
    return grade


@dataclass
class AuditReport:
    results: list[Result]
    generated_at: str

    @property
    def score(self) -> float:
        total = sum(WEIGHTS[r.severity] for r in self.results)
        lost = sum(WEIGHTS[r.severity] * COST[r.status] for r in self.results)
        return round(100.0 * lost / total, 1) if total else 0.0

    @property
    def grade(self) -> str:
        return grade_for(
            self.score, any(r.status == "fail" and r.severity == "critical" for r in self.results)
        )

    def counts(self) -> dict[str, int]:
        return {s: sum(r.status == s for r in self.results) for s in ("pass", "warn", "fail")}

    def failing(self) -> list[str]:
        return [r.id for r in self.results if r.status == "fail"]

    def as_json(self) -> dict[str, Any]:
        return {
            "generated_at": self.generated_at,
            "risk_score": self.score,
            "grade": self.grade,
            "counts": self.counts(),
            "controls": [r.as_json() for r in self.results],
        }

    def as_html(self) -> str:
        e = html.escape
        rows = "\n".join(
            f'<tr class="{e(r.status)}"><td>{e(r.id)}</td>'
            f"<td>{e(r.title)}<br><small>{e(r.reference)}</small></td>"
            f"<td>{e(r.severity)}</td><td><b>{e(r.status.upper())}</b></td><td>{e(r.evidence)}</td>"
            f"<td>{'' if r.status == 'pass' else e(r.remediation)}</td></tr>"
            for r in self.results
        )
        c = self.counts()
        return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>voiceflow compliance audit</title>
<style>
body{{font-family:system-ui,sans-serif;margin:2rem;color:#222}} table{{border-collapse:collapse;width:100%}}
td,th{{border:1px solid #ccc;padding:.4rem;vertical-align:top;text-align:left}} small{{color:#666}}
tr.pass td:nth-child(4){{color:#18794e}} tr.warn td:nth-child(4){{color:#a35200}}
tr.fail td:nth-child(4){{color:#c11}} .grade{{font-size:2.5rem;font-weight:700}}
</style></head><body>
<h1>voiceflow compliance audit</h1>
<p>Generated {e(self.generated_at)} &middot; HIPAA Security Rule and PCI DSS v4.0 controls</p>
<p><span class="grade">{e(self.grade)}</span> &nbsp; risk score {self.score:g} / 100 &nbsp;
{c["pass"]} pass, {c["warn"]} warn, {c["fail"]} fail</p>
<table><thead><tr><th>id</th><th>control</th><th>severity</th><th>status</th><th>evidence</th>
<th>remediation</th></tr></thead><tbody>
{rows}
</tbody></table></body></html>
"""


def audit(deployment: Deployment) -> AuditReport:
    return AuditReport(run_controls(deployment), datetime.now(UTC).isoformat(timespec="seconds"))
