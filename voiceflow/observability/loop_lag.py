"""How late the event loop runs what is due: the measure that says whether audio can be paced.

Every call's 20 ms output frames are timers on one event loop; anything that
holds the loop (a blocking call, a long Python stretch, a busy core) delays
them all. ``LoopLagMonitor`` asks to wake every ``interval_s`` and records how
late it woke in ``voiceflow_event_loop_lag_seconds`` (a histogram, merged over
workers in multiprocess mode), so ``/metrics`` and the load benchmark show the
lag under load.
"""

from __future__ import annotations

import asyncio
import contextlib

from prometheus_client import Histogram

__all__ = ["LOOP_LAG_SECONDS", "LoopLagMonitor"]

LOOP_LAG_SECONDS = Histogram(
    "voiceflow_event_loop_lag_seconds",
    "How late the event loop woke a timer (sampled every 50 ms)",
    buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0),
)


class LoopLagMonitor:
    """A task on the running loop that samples its lag until ``stop`` (see module doc)."""

    def __init__(self, interval_s: float = 0.05, histogram: Histogram = LOOP_LAG_SECONDS) -> None:
        self.interval_s = interval_s
        self.histogram = histogram
        self.worst_s = 0.0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="loop-lag")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + self.interval_s
            await asyncio.sleep(self.interval_s)
            lag = max(0.0, loop.time() - due)
            self.worst_s = max(self.worst_s, lag)
            self.histogram.observe(lag)
