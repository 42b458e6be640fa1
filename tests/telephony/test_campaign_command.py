"""The session bus's ``campaign`` action on the instance whose campaign placed the call."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.echo import pipeline as echo_pipeline
from tests.telephony.conftest import CALLER_ID, line_env
from voiceflow.config import Config
from voiceflow.sessions import CallSessions
from voiceflow.sessions.bus import Command, CommandFailed
from voiceflow.sessions.store import SessionStore
from voiceflow.telephony.campaign.store import CampaignSpec
from voiceflow.telephony.commands import register_campaign_command
from voiceflow.telephony.live import LiveCall


async def test_campaign_ops_on_a_campaign_call_and_precise_refusals(tmp_path: Path) -> None:
    async with line_env(tmp_path, echo_pipeline(Config())) as env:
        campaigns = env.pipeline.campaigns
        assert campaigns is not None
        campaign = await campaigns.store.create(CampaignSpec(name="autumn", from_number=CALLER_ID))
        await env.telephony.live.add(
            LiveCall(sid="CA" + "7" * 32, to="+13125550121", campaign_id=campaign.id)
        )
        await env.telephony.live.add(LiveCall(sid="CA" + "8" * 32, to="+13125550122"))  # not a campaign's
        sessions = CallSessions(SessionStore("instance-a", None))
        register_campaign_command(sessions, env.pipeline)
        handler = sessions.bus.handlers["campaign"]

        reply = await handler(Command("CA" + "7" * 32, "campaign", {"op": "status"}))
        assert reply["op"] == "status" and reply["campaign"]["campaign"]["name"] == "autumn"

        with pytest.raises(CommandFailed, match="is not running") as refused:
            await handler(Command("CA" + "7" * 32, "campaign", {"op": "pause"}))
        assert refused.value.status == 409
        with pytest.raises(CommandFailed, match="not one of pause, resume, status") as bad_op:
            await handler(Command("CA" + "7" * 32, "campaign", {"op": "delete"}))
        assert bad_op.value.status == 400
        with pytest.raises(CommandFailed, match="was not placed by a campaign") as not_ours:
            await handler(Command("CA" + "8" * 32, "campaign", {"op": "status"}))
        assert not_ours.value.status == 404
        env.telephony.live.pop("CA" + "7" * 32)
        env.telephony.live.pop("CA" + "8" * 32)
