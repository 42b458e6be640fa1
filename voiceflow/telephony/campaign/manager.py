"""The campaigns a server runs: start, pause, resume, and their live status (the admin API's backend)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from voiceflow.core.clock import Clock
from voiceflow.telephony.campaign.analytics import campaign_report
from voiceflow.telephony.campaign.runner import CampaignRunner
from voiceflow.telephony.campaign.store import CampaignStore
from voiceflow.telephony.service import Telephony

__all__ = ["CampaignManager", "CampaignStateError"]

log = logging.getLogger("voiceflow.telephony.campaign")


class CampaignStateError(RuntimeError):
    """The campaign is not in a state that allows this (start a running one, resume a finished one)."""


class CampaignManager:
    def __init__(self, telephony: Telephony, *, clock: Clock) -> None:
        self.telephony = telephony
        self.store = CampaignStore(telephony.db)
        self.clock = clock
        self.runners: dict[int, CampaignRunner] = {}
        self._tasks: dict[int, asyncio.Task[None]] = {}

    async def start(self, ref: int | str) -> dict[str, Any]:
        campaign = await self.store.get(ref)
        task = self._tasks.get(campaign.id)
        if task is not None and not task.done():
            raise CampaignStateError(f"campaign {campaign.name!r} is already running")
        if campaign.status == "finished":
            raise CampaignStateError(f"campaign {campaign.name!r} has finished")
        if not await self.store.contacts(campaign.id):
            raise CampaignStateError(f"campaign {campaign.name!r} has no contacts; import some first")
        runner = CampaignRunner(campaign, self.store, self.telephony, clock=self.clock)
        self.runners[campaign.id] = runner
        self._tasks[campaign.id] = asyncio.create_task(self._run(runner), name=f"campaign:{campaign.name}")
        return await self.status(campaign.id)

    async def _run(self, runner: CampaignRunner) -> None:
        try:
            await runner.run()
        except Exception:
            log.exception("campaign %s stopped with an error", runner.campaign.name)
            runner.error = runner.error or "stopped with an error (see the server log)"

    async def pause(self, ref: int | str) -> dict[str, Any]:
        runner = await self._live(ref)
        runner.pause()
        return await self.status(runner.campaign.id)

    async def resume(self, ref: int | str) -> dict[str, Any]:
        campaign = await self.store.get(ref)
        runner = self.runners.get(campaign.id)
        task = self._tasks.get(campaign.id)
        if runner is None or task is None or task.done():
            return await self.start(campaign.id)  # paused by a restart: start again where it stood
        runner.error = None
        runner.resume()
        return await self.status(campaign.id)

    async def _live(self, ref: int | str) -> CampaignRunner:
        campaign = await self.store.get(ref)
        runner = self.runners.get(campaign.id)
        task = self._tasks.get(campaign.id)
        if runner is None or task is None or task.done():
            raise CampaignStateError(f"campaign {campaign.name!r} is not running")
        return runner

    async def status(self, ref: int | str) -> dict[str, Any]:
        campaign = await self.store.get(ref)
        runner = self.runners.get(campaign.id)
        report = await campaign_report(self.telephony.db, campaign.id)
        return {
            "campaign": campaign.as_dict(),
            "in_flight": runner.in_flight if runner else 0,
            "paused": runner.paused if runner else campaign.status == "paused",
            "error": runner.error if runner else None,
            "progress": report["progress"],
            "contacts": report["contacts"],
        }

    async def aclose(self) -> None:
        """Stop every campaign (in-flight calls are awaited; contacts stay where they are)."""
        for runner in self.runners.values():
            runner.stop()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        self._tasks.clear()
