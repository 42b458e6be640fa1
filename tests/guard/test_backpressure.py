"""Backpressure that never stalls a socket, on a real server with real keepalive pings.

One call's pipeline stops consuming audio altogether. Its socket keeps being
read (the oldest audio is dropped and counted, one episode), so the server's
keepalive pings are answered and the call is not closed with 1011; a second
call on the same server keeps getting its replies meanwhile.
"""

from __future__ import annotations

import asyncio
import logging

import pytest
from prometheus_client import REGISTRY

from tests.guard.guard_helpers import guarded_server
from tests.transports.transport_helpers import EchoFactory, tone
from voiceflow.calls import CallContext
from voiceflow.frames import AudioRaw, UserStoppedSpeaking
from voiceflow.graphs import Graph
from voiceflow.processors import Processor, on
from voiceflow.sim.twilio_client import TwilioMediaClient
from voiceflow.transports.websocket.input import PcmInput


class Stall(Processor):
    """Takes one audio frame and never finishes handling it: the pipeline stops consuming."""

    produces = (UserStoppedSpeaking,)  # so the output has a producer (not bot output: handled inline)

    def __init__(self) -> None:
        super().__init__(name="stall")
        self.never = asyncio.Event()

    @on(AudioRaw)
    async def audio(self, frame: AudioRaw) -> None:
        await self.never.wait()


class StallOrEcho:
    """The echo pipeline, except for the caller "stall", whose graph stops after its input."""

    def __init__(self) -> None:
        self.echo = EchoFactory()
        self.inputs: dict[str, PcmInput] = {}
        self.stalls: list[Stall] = []

    def __call__(self, ctx: CallContext, input: Processor, output: Processor) -> Graph:
        assert isinstance(input, PcmInput)
        self.inputs[ctx.caller or ""] = input
        if ctx.caller == "stall":
            self.stalls.append(Stall())
            return Graph(f"stall:{ctx.call_id}").chain(input, self.stalls[-1], output)
        return self.echo(ctx, input, output)


async def test_a_stalled_pipeline_never_causes_a_keepalive_timeout(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="voiceflow")
    factory = StallOrEcho()
    metric = ("voiceflow_input_audio_dropped_total", {"transport": "twilio"})
    dropped_before = REGISTRY.get_sample_value(*metric) or 0.0
    async with (
        guarded_server(factory, ws_ping_interval=0.2, ws_ping_timeout=0.5) as (server, _f, _state),
        TwilioMediaClient(server.ws_url("/twilio/media"), caller="stall") as stalled,
        TwilioMediaClient(server.ws_url("/twilio/media"), caller="healthy") as healthy,
    ):

        async def flood() -> None:  # 15 s of caller audio at 4x real time, in 1 s bursts
            for _ in range(15):
                await stalled.send_silence(1.0, realtime=False)
                await asyncio.sleep(0.25)

        async def converse() -> int:
            replies = 0
            for _ in range(3):
                spoke_until = await healthy.send_audio(tone(0.5), sample_rate=16000)
                await healthy.send_silence(0.4)
                reply = await healthy.wait_for_reply(after=spoke_until, timeout=10, quiet_s=0.3)
                replies += reply.frames > 10
            return replies

        replies, _ = await asyncio.gather(converse(), flood())
        await asyncio.sleep(0.8)  # several more ping intervals
        assert replies == 3, "the healthy call answered every turn"
        assert not stalled.closed and stalled.close_code is None, "no keepalive timeout"
        stalled_input = factory.inputs["stall"]
        assert stalled_input.dropped_frames > 100, "the oldest audio was dropped, not waited on"
        assert stalled_input.drop_episodes == 1
        assert factory.inputs["healthy"].dropped_frames == 0
        counted = (REGISTRY.get_sample_value(*metric) or 0.0) - dropped_before
        assert counted == stalled_input.dropped_frames, "every dropped frame is in the Prometheus counter"
        factory.stalls[0].never.set()  # let it drain at hang-up
    drops = [r for r in caplog.records if "dropping the oldest audio" in r.getMessage()]
    assert len(drops) == 1, "one log line per episode, not per frame"
