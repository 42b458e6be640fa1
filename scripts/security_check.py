"""``make security``: bandit over the package (a high-severity finding fails) and a dependency audit.

The dependency audit runs pip-audit against PyPI's vulnerability data. When that
data cannot be reached (no network, a mirror without the JSON API), pip-audit
audits nothing: this script then reports the audit as SKIPPED with the reason
instead of calling the environment clean. Exit 1 on a high-severity bandit finding
or a known-vulnerable dependency, 0 otherwise.

    .venv/bin/python scripts/security_check.py [--bandit-only] [--json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SCANNED = ["voiceflow", "pipelines"]


def run_bandit(paths: list[str]) -> dict[str, Any]:
    cmd = [str(BIN / "bandit"), "-r", *paths, "-f", "json", "-q"]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    report = json.loads(done.stdout or "{}")
    results = report.get("results", [])
    by_severity = Counter(r["issue_severity"] for r in results)
    high = [
        f"{r['filename']}:{r['line_number']} {r['test_id']} {r['issue_text']}"
        for r in results
        if r["issue_severity"] == "HIGH"
    ]
    return {"status": "fail" if high else "pass", "by_severity": dict(by_severity), "high": high}


def run_dependency_audit() -> dict[str, Any]:
    exe = BIN / "pip-audit"
    if not exe.exists() and shutil.which("pip-audit") is None:
        return {"status": "skipped", "reason": "pip-audit is not installed (the dev extra installs it)"}
    cmd = [str(exe if exe.exists() else "pip-audit"), "--progress-spinner", "off", "-f", "json", "-l"]
    try:
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        return {"status": "skipped", "reason": "the vulnerability database did not answer within 300 s"}
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        reason = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"status": "skipped", "reason": f"pip-audit could not run: {reason[:300]}"}
    deps = report.get("dependencies", [])
    audited = [d for d in deps if "skip_reason" not in d]
    if not audited:
        first = next((d["skip_reason"] for d in deps if "skip_reason" in d), "no dependency was audited")
        return {
            "status": "skipped",
            "reason": f"the vulnerability database could not be reached: 0 of {len(deps)} packages audited "
            f"(pip-audit: {first})",
        }
    vulnerable = [
        f"{d['name']} {d['version']}: {', '.join(v['id'] for v in d['vulns'])}"
        for d in audited
        if d.get("vulns")
    ]
    return {
        "status": "fail" if vulnerable else "pass",
        "audited": len(audited),
        "of": len(deps),
        "vulnerable": vulnerable,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bandit-only", action="store_true", help="skip the dependency audit")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--paths", nargs="+", default=SCANNED, help="what bandit scans (voiceflow pipelines)")
    args = parser.parse_args()
    bandit = run_bandit(args.paths)
    deps = {"status": "skipped", "reason": "--bandit-only"} if args.bandit_only else run_dependency_audit()
    if args.json:
        print(json.dumps({"bandit": bandit, "dependencies": deps}))
    else:
        counts = (
            ", ".join(f"{n} {s.lower()}" for s, n in sorted(bandit["by_severity"].items())) or "no findings"
        )
        print(f"bandit ({' '.join(args.paths)}): {bandit['status'].upper()} ({counts}; high severity fails)")
        for line in bandit["high"]:
            print(f"  HIGH {line}")
        if deps["status"] == "skipped":
            print(f"dependency audit: SKIPPED: {deps['reason']}")
        else:
            audited = f"{deps['audited']} of {deps['of']} packages audited"
            print(f"dependency audit: {deps['status'].upper()} ({audited})")
            for line in deps["vulnerable"]:
                print(f"  VULNERABLE {line}")
    return 1 if "fail" in (bandit["status"], deps["status"]) else 0


if __name__ == "__main__":
    sys.exit(main())
