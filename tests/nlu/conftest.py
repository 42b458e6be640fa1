"""Shared NLU fixtures: the SetFit model is trained once (and cached on disk across sessions)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.nlu.nlu_helpers import model_root
from voiceflow.processors.nlu.setfit_tier import SetFitTier
from voiceflow.processors.nlu.setfit_training import ensure_trained
from voiceflow.testing.fakes.rasa import FakeRasaServer


@pytest.fixture(scope="session")
def trained_model() -> tuple[Path, bool]:
    """(model dir, trained during this session): trains only when the cache has no matching model."""
    return ensure_trained(root=model_root())


@pytest.fixture
async def setfit_tier(trained_model: tuple[Path, bool]) -> SetFitTier:
    tier = SetFitTier(model_dir=trained_model[0])
    await tier.start()
    assert tier.ready
    return tier


@pytest.fixture
async def rasa_server() -> AsyncIterator[FakeRasaServer]:
    async with FakeRasaServer() as server:
        yield server
