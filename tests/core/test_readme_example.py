"""The README's first example runs as printed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_core_example_runs() -> None:
    text = README.read_text()
    block = re.search(r"## The core in one example\n\n```python\n(.*?)```", text, re.S)
    assert block is not None
    out = subprocess.run([sys.executable, "-c", block.group(1)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "['HELLO']"
