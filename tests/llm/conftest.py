"""Shared fixtures for the LLM tests: the fake OpenAI server, an engine pointed at it, output watching."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.llm.llm_helpers import Outputs
from voiceflow.services.llm.openai import OpenAICompatEngine
from voiceflow.testing.fakes.openai_server import FakeOpenAIServer


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAIServer]:
    async with FakeOpenAIServer() as server:
        yield server


@pytest.fixture
async def engine(fake: FakeOpenAIServer) -> AsyncIterator[OpenAICompatEngine]:
    eng = OpenAICompatEngine("fake-model", base_url=fake.base_url, api_key="sk-test", timeout=5.0)
    yield eng
    await eng.aclose()


@pytest.fixture
def outputs() -> Outputs:
    return Outputs()
