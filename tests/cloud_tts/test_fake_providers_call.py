"""``voiceflow call --pipeline cloud --fake-providers`` as a newcomer runs it: a real process, every
provider (Deepgram, Anthropic, ElevenLabs, Cartesia) a local fake, no key and no network."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _call(*args: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    env = {
        k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and not k.startswith("VOICEFLOW_")
    }
    env |= {"PYTHONPATH": str(ROOT), "VOICEFLOW_DATA_DIR": str(tmp)}
    return subprocess.run(
        [sys.executable, "-m", "voiceflow.cli", "call", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_the_cloud_pipeline_runs_against_the_fakes_without_keys(tmp_path: Path) -> None:
    done = _call("--pipeline", "cloud", "--fake-providers", "--json", "My rating is five.", tmp=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    (turn,) = summary["turns"]
    assert any(t.startswith("collect_feedback(rating=5") for t in turn["tools"]), turn
    assert turn["client_v2v_ms"] is not None  # the answer was heard on the line


def test_a_pipeline_without_fakes_is_a_clear_error(tmp_path: Path) -> None:
    done = _call("--pipeline", "echo", "--fake-providers", "hello", tmp=tmp_path)
    assert done.returncode == 2 and "has no fake providers" in done.stderr, done.stderr
