"""Paths of the shipped deployment files, and the tools that check them (skipped with a reason if absent)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
NGINX_CONF = DEPLOY / "nginx" / "nginx.conf"


def need(tool: str) -> str:
    """The tool's path; a missing tool fails loudly in CI (scripts/setup.sh installs it)."""
    path = shutil.which(tool) or next(
        (p for p in (f"/usr/sbin/{tool}", f"/usr/bin/{tool}") if Path(p).exists()), None
    )
    if path is None:
        pytest.fail(f"{tool} is not installed: run scripts/setup.sh (Debian package)")
    return path
