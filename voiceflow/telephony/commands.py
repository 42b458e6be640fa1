"""The ``campaign`` command of the session bus: run on the instance that owns the call.

An operator (or another instance) addresses a live outbound call; the instance whose
campaign runner placed it pauses, resumes or reports that call's campaign. Sent as
``sessions.send(call_id, "campaign", {"op": "pause"})``.
"""

from __future__ import annotations

from typing import Any

from voiceflow.sessions import CallSessions
from voiceflow.sessions.bus import Command, CommandFailed
from voiceflow.telephony.campaign.manager import CampaignStateError
from voiceflow.telephony.pipeline import TelephonyPipeline

__all__ = ["CAMPAIGN_OPS", "register_campaign_command"]

CAMPAIGN_OPS = ("pause", "resume", "status")


def register_campaign_command(sessions: CallSessions, pipeline: TelephonyPipeline) -> None:
    """Make ``campaign`` a bus action for the calls this instance's campaigns placed."""

    async def campaign(command: Command) -> dict[str, Any]:
        op = command.args.get("op", "status")
        if op not in CAMPAIGN_OPS:
            raise CommandFailed(f"campaign op {op!r} is not one of {', '.join(CAMPAIGN_OPS)}", status=400)
        telephony, campaigns = pipeline.telephony, pipeline.campaigns
        if telephony is None or campaigns is None:
            raise CommandFailed("telephony is not running on this instance", status=503)
        live = telephony.live.get(command.call_id)
        if live is None or live.campaign_id is None:
            raise CommandFailed(f"call {command.call_id!r} was not placed by a campaign", status=404)
        try:
            result: dict[str, Any] = await getattr(campaigns, op)(live.campaign_id)
        except CampaignStateError as exc:  # e.g. pausing a campaign that has finished
            raise CommandFailed(str(exc), status=409) from exc
        return {"action": "campaign", "op": op, "call_id": command.call_id, "campaign": result}

    sessions.register("campaign", campaign)
