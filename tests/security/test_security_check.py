"""``make security``'s script: a high-severity bandit finding fails; a skipped dependency audit says why."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "security_check.py"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=600)


def test_the_package_has_no_high_severity_finding() -> None:
    done = run("--bandit-only", "--json")
    report = json.loads(done.stdout)
    assert done.returncode == 0, report["bandit"]["high"]
    assert report["bandit"]["status"] == "pass"
    assert report["dependencies"] == {"status": "skipped", "reason": "--bandit-only"}


def test_a_high_severity_finding_fails(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    source = "import subprocess\n\n\ndef run(cmd: str) -> None:\n    subprocess.Popen(cmd, shell=True)\n"
    bad.write_text(source)
    done = run("--bandit-only", "--paths", str(tmp_path))
    assert done.returncode == 1
    assert "FAIL" in done.stdout and "B602" in done.stdout and "bad.py:5" in done.stdout
