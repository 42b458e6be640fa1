"""Whole calls through ``pipelines/cloud.py`` over the real ``/twilio/media`` WebSocket with the cloud
voices: Deepgram's and Anthropic's fakes hear and answer, the TTS router speaks through the ElevenLabs
and Cartesia fakes in 8 kHz μ-law. A voice that is down or dies leaves no silence; barge-in stops it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from pipelines.cloud import CloudPipeline
from voiceflow.commands.serve import RunningServer, serve_in_background
from voiceflow.config import Config
from voiceflow.server.app import create_app
from voiceflow.services.stt.pocketsphinx import PocketsphinxEngine
from voiceflow.sim.phone_line import PhoneLine
from voiceflow.sim.scripted_call import CallWatchers
from voiceflow.sim.speech import synthesize
from voiceflow.sim.twilio_client import TwilioMediaClient
from voiceflow.testing.fakes.anthropic_server import FakeAnthropicServer
from voiceflow.testing.fakes.cartesia_server import FakeCartesiaServer
from voiceflow.testing.fakes.deepgram_server import FakeDeepgramServer
from voiceflow.testing.fakes.elevenlabs_server import FakeElevenLabsServer
from voiceflow.testing.fakes.llm_server import Say


@dataclass
class Agent:
    server: RunningServer
    watchers: CallWatchers
    eleven: FakeElevenLabsServer
    cartesia: FakeCartesiaServer
    llm: FakeAnthropicServer
    deepgram: FakeDeepgramServer

    @property
    def url(self) -> str:
        return self.server.ws_url("/twilio/media")


@asynccontextmanager
async def cloud_voice_agent(data: Path, policy: str = "quality") -> AsyncIterator[Agent]:
    async with AsyncExitStack() as stack:
        deepgram = await stack.enter_async_context(
            FakeDeepgramServer(
                api_key="dg-test", recognizer=lambda rate: PocketsphinxEngine(channel="phone", domain_lm=True)
            )
        )
        llm = await stack.enter_async_context(FakeAnthropicServer(api_key="sk-ant-test"))
        eleven = await stack.enter_async_context(FakeElevenLabsServer())
        cartesia = await stack.enter_async_context(FakeCartesiaServer())
        env = {
            "VOICEFLOW_DATA_DIR": str(data),
            "VOICEFLOW_STT": "deepgram",
            "DEEPGRAM_API_KEY": "dg-test",
            "VOICEFLOW_DEEPGRAM_URL": deepgram.url,
            "VOICEFLOW_LLM": "anthropic",
            "ANTHROPIC_API_KEY": "sk-ant-test",
            "VOICEFLOW_ANTHROPIC_URL": llm.base_url,
            "VOICEFLOW_TTS_POLICY": policy,
            "ELEVENLABS_API_KEY": eleven.api_key,
            "VOICEFLOW_ELEVENLABS_URL": eleven.http_url,
            "CARTESIA_API_KEY": cartesia.api_key,
            "VOICEFLOW_CARTESIA_URL": cartesia.http_url,
        }
        app = create_app(CloudPipeline(Config.from_env(env)), Config.from_env(env).server)
        watchers = CallWatchers(app.state.voiceflow.calls)
        server = await stack.enter_async_context(serve_in_background(app, startup_timeout_s=600))
        yield Agent(server, watchers, eleven, cartesia, llm, deepgram)


async def test_a_call_answered_in_elevenlabs_ulaw_and_on_cartesia_when_elevenlabs_is_down(
    tmp_path: Path,
) -> None:
    async with cloud_voice_agent(tmp_path) as agent:
        async with TwilioMediaClient(agent.url, caller="+15550100021") as call, PhoneLine(call) as line:
            watcher = await agent.watchers.get(call.call_sid)
            spoken = await line.say(synthesize("My rating is five.", 16000), 16000)
            reply = await call.wait_for_reply(after=spoken.voiced_end_at, timeout=60)
            turn = watcher.take()
            assert reply.frames > 25
            assert any(t.startswith("collect_feedback(rating=5") for t in turn.tools), turn.tools
            assert agent.eleven.sessions and all(
                s.query["output_format"] == "ulaw_8000" for s in agent.eleven.sessions
            )
            assert not agent.cartesia.contexts
            # ElevenLabs runs out of quota: the next answer is spoken by Cartesia, the call goes on
            agent.eleven.faults.error = "quota_exceeded"
            spoken = await line.say(synthesize("What are your opening hours?", 16000), 16000)
            reply = await call.wait_for_reply(after=spoken.voiced_end_at, timeout=60)
            assert reply.frames > 10
        contexts = list(agent.cartesia.contexts.values())
        assert contexts and contexts[0].requests[0]["output_format"]["encoding"] == "pcm_mulaw"


async def test_barge_in_cancels_the_cartesia_context_and_no_stale_audio_follows(tmp_path: Path) -> None:
    async with cloud_voice_agent(tmp_path, policy="speed") as agent:
        agent.cartesia.faults.chunk_delay_s = 0.08  # a long answer still streaming when the caller cuts in
        long = "Sure, our store hours are long and I will read them all to you now, one day at a time."
        agent.llm.script(Say(chunks=[long, " Monday nine to five.", " Tuesday nine to five."]))
        async with TwilioMediaClient(agent.url, caller="+15550100022") as call, PhoneLine(call) as line:
            watcher = await agent.watchers.get(call.call_sid)
            spoken = await line.say(synthesize("Tell me everything about your hours.", 16000), 16000)
            await call.wait_for_agent_audio(after=spoken.voiced_end_at, timeout=60)
            watcher.take()
            await asyncio.sleep(0.8)
            said_from = call.clock.now()
            over = line.say(synthesize("Sorry, can I talk to a person please?", 16000), 16000)
            cleared = await call.wait_for_clear(after=said_from, timeout=15)
            await over
            cancelled = list(agent.cartesia.cancelled)
            assert cancelled, "the interrupted answer's Cartesia context was not cancelled"
            sent = agent.cartesia.contexts[cancelled[0]].chunks_sent
            await asyncio.sleep(1.0)
            assert agent.cartesia.contexts[cancelled[0]].chunks_sent == sent  # nothing generated after cancel
            assert cleared


async def test_deepgram_and_both_voices_down_the_offline_engines_serve_the_call(tmp_path: Path) -> None:
    async with cloud_voice_agent(tmp_path) as agent:
        for _ in range(5):
            agent.deepgram.reject_next(401)  # the key is refused on every (re)connect
        agent.eleven.faults.error = "quota_exceeded"
        agent.cartesia.faults.error = "rate_limited"
        async with TwilioMediaClient(agent.url, caller="+15550100023") as call, PhoneLine(call) as line:
            watcher = await agent.watchers.get(call.call_sid)
            spoken = await line.say(synthesize("My rating is five.", 16000), 16000)
            reply = await call.wait_for_reply(after=spoken.voiced_end_at, timeout=60)
            turn = watcher.take()
        # pocketsphinx heard the caller, Piper answered: the call never went silent
        assert any(t.startswith("collect_feedback(rating=5") for t in turn.tools), (turn.heard, turn.tools)
        assert reply.frames > 25
        assert not agent.deepgram.sessions or all(s.audio_seconds < 1.0 for s in agent.deepgram.sessions)
