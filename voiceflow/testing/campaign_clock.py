"""Run a campaign on a ``VirtualClock`` while its calls happen in real time (tests, benchmarks).

The runner's clock is the time of day (Unix seconds), the calls themselves are
real sockets and real audio. Virtual time moves only when the runner waits for
it: to pace the next dial (``blocked_on == "pace"``), or, when no call is in
flight, for the next due contact (``"due"``: a retry, the calling window
opening tomorrow). So a day of calling hours takes as long as its calls do.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from voiceflow.core.clock import VirtualClock
from voiceflow.telephony.campaign.runner import CampaignRunner

__all__ = ["run_on_virtual_clock"]


async def run_on_virtual_clock(
    runner: CampaignRunner,
    clock: VirtualClock,
    *,
    timeout: float = 900.0,
    step_s: float = 0.02,
    each_step: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Run ``runner`` to the end; ``each_step`` runs between steps (a test changing the world mid-run)."""
    task = asyncio.create_task(runner.run(), name=f"campaign:{runner.campaign.name}")
    try:
        async with asyncio.timeout(timeout):
            while not task.done():
                await asyncio.wait({task}, timeout=step_s)
                if each_step is not None:
                    await each_step()
                idle = runner.blocked_on == "due" and runner.in_flight == 0
                waiting = runner.blocked_on == "pace" or idle
                deadline = clock.next_deadline()
                if waiting and deadline is not None:
                    await clock.advance(max(0.0, deadline - clock.now()))
    finally:
        if not task.done():
            runner.stop()
            await clock.run_until_idle()
            await asyncio.gather(task, return_exceptions=True)
    await task
