"""Constants and small helpers of the NLU tests."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path

from voiceflow.processors.nlu.intents import load_test_set

REPO = Path(__file__).resolve().parents[2]
#: a Wednesday: relative dates in the tests resolve against it
TODAY = date(2025, 12, 3)


def model_root() -> Path:
    """The SetFit cache the CLI uses too, so a model trained once serves every session."""
    return Path(os.environ.get("VOICEFLOW_NLU_MODEL_DIR") or REPO / ".voiceflow/models/setfit-intents")


async def accuracy(predict: Callable[[str], Awaitable[str | None]]) -> tuple[float, list[str]]:
    """Accuracy on the held-out set and the misclassified lines (for assertion messages)."""
    tests = load_test_set()
    misses: list[str] = []
    for text, expected in tests:
        got = await predict(text)
        if got != expected:
            misses.append(f"{text!r}: expected {expected}, got {got}")
    return 1 - len(misses) / len(tests), misses
