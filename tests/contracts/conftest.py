"""Fixtures parametrized over the adapter lists: a new adapter is one entry in its list."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.contracts.llm_adapters import LLM_ADAPTERS, LLMAdapter, LLMHarness
from tests.contracts.tts_adapters import TTS_ADAPTERS, TTSAdapter, TTSHarness
from voiceflow.graphs import VirtualClock


@pytest.fixture(params=TTS_ADAPTERS, ids=lambda a: a.id)
def tts_adapter(request: pytest.FixtureRequest) -> TTSAdapter:
    adapter: TTSAdapter = request.param
    return adapter


@pytest.fixture
async def tts(tts_adapter: TTSAdapter) -> AsyncIterator[TTSHarness]:
    """A started engine of each adapter (closed afterwards)."""
    async with tts_adapter.open() as harness:
        await harness.engine.start(VirtualClock())
        try:
            yield harness
        finally:
            await harness.engine.aclose()


@pytest.fixture(params=LLM_ADAPTERS, ids=lambda a: a.id)
def llm_adapter(request: pytest.FixtureRequest) -> LLMAdapter:
    adapter: LLMAdapter = request.param
    return adapter


@pytest.fixture
async def llm(llm_adapter: LLMAdapter) -> AsyncIterator[LLMHarness]:
    """A started engine of each adapter against its fake provider (closed afterwards)."""
    async with llm_adapter.open() as harness:
        await harness.engine.start(VirtualClock())
        try:
            yield harness
        finally:
            await harness.engine.aclose()
