"""Fixtures for the tool tests: a real seeded SQLite file per test and a fixed business-local clock."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.tools.tools_helpers import MONDAY_10AM, FixedNow
from voiceflow.db import Database, open_seeded
from voiceflow.processors.tools import BusinessConfig, CallCenterTools, ToolContext


@pytest.fixture
def now() -> FixedNow:
    return FixedNow(MONDAY_10AM)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "callcenter.db"


@pytest.fixture
async def db(db_path: Path) -> AsyncIterator[Database]:
    database = await open_seeded(db_path, today=MONDAY_10AM.date())
    try:
        yield database
    finally:
        await database.close()


@pytest.fixture
def tools(db: Database, now: FixedNow) -> CallCenterTools:
    return CallCenterTools(ToolContext(db, BusinessConfig(), now, random.Random(1234)))
