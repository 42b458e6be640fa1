"""``TelephonyPipeline``: any pipeline, with our outbound calls, AMD and transfers on its Twilio calls.

It wraps the agent's pipeline: ``prepare`` also opens ``Telephony`` (REST client,
call records), and each Twilio call's graph gets ``LineControl`` before the
output; a call we placed (its SID is live in ``Telephony``) also gets
``AnswerGate`` after the input. Other transports get the inner graph as is.
The HTTP routes find the service as ``pipeline.telephony`` and the campaigns as
``pipeline.campaigns``.
"""

from __future__ import annotations

from pathlib import Path

from voiceflow.calls import CallContext
from voiceflow.config import Config
from voiceflow.core.clock import Clock
from voiceflow.graphs import Graph
from voiceflow.pipeline import Pipeline
from voiceflow.processors import Processor
from voiceflow.telephony.amd import LocalAmd
from voiceflow.telephony.campaign.manager import CampaignManager
from voiceflow.telephony.line import AnswerGate, LineControl, LineState
from voiceflow.telephony.service import Telephony, TelephonyOptions
from voiceflow.telephony.wallclock import WallClock

__all__ = ["TelephonyPipeline", "with_telephony"]


class TelephonyPipeline:
    def __init__(
        self,
        inner: Pipeline,
        options: TelephonyOptions,
        db_path: Path,
        *,
        clock: Clock | None = None,
        admin_token: str | None = None,
    ) -> None:
        self.inner = inner
        self.options = options
        self.db_path = db_path
        self.clock = clock
        #: the bearer token of the ``/admin`` API (None: the API answers 503)
        self.admin_token = admin_token
        self.telephony: Telephony | None = None
        self.campaigns: CampaignManager | None = None

    async def prepare(self) -> None:
        await self.inner.prepare()
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        self.telephony = await Telephony.open(self.options, str(self.db_path), clock=self.clock)
        self.campaigns = CampaignManager(self.telephony, clock=self.clock or WallClock())

    async def shutdown(self) -> None:
        telephony, self.telephony = self.telephony, None
        campaigns, self.campaigns = self.campaigns, None
        try:
            if campaigns is not None:
                await campaigns.aclose()
            if telephony is not None:
                await telephony.aclose()
        finally:
            await self.inner.shutdown()

    def build(self, ctx: CallContext, input: Processor, output: Processor) -> Graph:
        telephony = self.telephony
        if telephony is None or ctx.transport != "twilio":
            return self.inner.build(ctx, input, output)
        live = telephony.live.get(ctx.call_id)
        params = ctx.metadata.get("custom_parameters") or {}
        outbound = live is not None or params.get("direction") == "outbound"
        line = LineState(telephony, ctx.call_id, ctx.caller or (live.to if live else None), live, outbound)
        tail = LineControl(line, name="line")
        if live is not None and live.script is not None:  # what the agent may use about the callee
            ctx.metadata["contact"] = {"phone": live.to, "name": live.script.name, **live.script.fields}
        if outbound:
            gate = AnswerGate(line, local_amd=LocalAmd() if telephony.local_amd else None, name="answer_gate")
            return Graph(f"outbound:{ctx.call_id}").chain(input, self.inner.build(ctx, gate, tail), output)
        return Graph(f"line:{ctx.call_id}").chain(self.inner.build(ctx, input, tail), output)


def with_telephony(pipeline: Pipeline, config: Config) -> Pipeline:
    """``pipeline`` wrapped in ``TelephonyPipeline`` when ``TWILIO_ACCOUNT_SID`` is set (else as is);
    ``ConfigError`` when telephony is half configured."""
    options = TelephonyOptions.from_config(config)
    if options is None:
        return pipeline
    return TelephonyPipeline(
        pipeline, options, config.telephony.campaign_db, admin_token=config.telephony.admin_token
    )
