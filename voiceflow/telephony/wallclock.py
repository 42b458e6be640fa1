"""Wall time for telephony: calling hours, call records and campaign schedules are about the
time of day, so their clock's ``now()`` is Unix seconds (``WallClock`` in production; a
``VirtualClock(start=<unix time>)`` in tests, which then runs a whole day in milliseconds)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from voiceflow.core.clock import Clock, MonotonicClock

__all__ = ["WallClock", "utc"]


class WallClock(MonotonicClock):
    """``time.time()`` for ``now``; sleeping and timeouts are the monotonic clock's (the event loop's)."""

    def now(self) -> float:
        return time.time()


def utc(clock: Clock) -> datetime:
    """The clock's now as an aware UTC datetime."""
    return datetime.fromtimestamp(clock.now(), UTC)
