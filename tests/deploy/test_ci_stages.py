"""CI runs the README's test command, and that command runs the five stages in order."""

from __future__ import annotations

import re

import yaml

from tests.deploy.conftest import ROOT


def recipe(target: str) -> str:
    text = (ROOT / "Makefile").read_text()
    match = re.search(rf"^{re.escape(target)}:[^\n]*\n((?:\t[^\n]*\n|[ \t]*\n)*)", text, re.M)
    assert match, f"no {target} target"
    return match.group(1)


def test_ci_runs_exactly_the_readme_test_command() -> None:
    assert "make test" in (ROOT / "README.md").read_text()
    commands = [ln for ln in (ROOT / ".ci/run").read_text().splitlines() if ln and not ln.startswith("#")]
    assert commands[-1] == "make test"


def test_make_test_runs_the_five_stages_in_order() -> None:
    assert "ruff check" in recipe("lint") and "mypy" in recipe("lint") and "format --check" in recipe("lint")
    test = recipe("test")
    assert (ROOT / "Makefile").read_text().count("\ntest: lint") == 1
    order = ["--cov=voiceflow", "--cov-fail-under", "security", "deploy-check", "container"]
    positions = [test.index(step) for step in order]
    assert positions == sorted(positions)
    assert "scripts/security_check.py" in recipe("security") and "tests/deploy" in recipe("deploy-check")


def test_the_github_workflow_describes_the_same_stages() -> None:
    jobs = yaml.safe_load((ROOT / ".github/workflows/ci.yml").read_text())["jobs"]
    assert list(jobs) == ["lint", "tests", "security", "deploy-checks", "container"]
    runs = {name: " ".join(str(s.get("run", "")) for s in job["steps"]) for name, job in jobs.items()}
    assert "make lint" in runs["lint"] and "--cov-fail-under" in runs["tests"]
    assert "make security" in runs["security"] and "make deploy-check" in runs["deploy-checks"]
    assert "container_build.sh" in runs["container"]
