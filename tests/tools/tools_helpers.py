"""Shared constants for the tool tests: the business timezone and a fixed wall clock."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

TZ = ZoneInfo("America/New_York")
#: Monday 1 December 2025, 10:00 in New York (seeded appointments fall on Dec 2, 3 and 4)
MONDAY_10AM = datetime(2025, 12, 1, 10, 0, tzinfo=TZ)


class FixedNow:
    """A settable wall clock for tools (the graph's own clock stays VirtualClock)."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment
