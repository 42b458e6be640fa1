"""Fixtures for the dialogue tests: a real seeded SQLite file and a fixed business-local clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.dialogue.dialogue_helpers import MONDAY_10AM, FixedNow
from voiceflow.db import Database, open_seeded


@pytest.fixture
def now() -> FixedNow:
    return FixedNow(MONDAY_10AM)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await open_seeded(tmp_path / "callcenter.db", today=MONDAY_10AM.date())
    try:
        yield database
    finally:
        await database.close()
