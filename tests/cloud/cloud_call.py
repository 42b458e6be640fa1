"""A running cloud agent for whole-call tests: the real server with ``pipelines/cloud.py``,
Deepgram's fake (hearing with pocketsphinx) and one LLM provider's fake, all on real sockets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.cloud import CloudPipeline
from voiceflow.commands.serve import RunningServer, serve_in_background
from voiceflow.config import Config
from voiceflow.server.app import create_app
from voiceflow.services.stt.pocketsphinx import PocketsphinxEngine
from voiceflow.services.tts.piper import PiperEngine
from voiceflow.sim.scripted_call import CallWatchers
from voiceflow.testing.fakes.anthropic_server import FakeAnthropicServer
from voiceflow.testing.fakes.deepgram_server import FakeDeepgramServer
from voiceflow.testing.fakes.gemini_server import FakeGeminiServer
from voiceflow.testing.fakes.openai_model import model_rule
from voiceflow.testing.fakes.openai_server import FakeOpenAIServer

LLMS = ("anthropic", "gemini", "openai")


class RecordingTTS(PiperEngine):
    """Piper, noting each text it was asked to speak (what reached the TTS)."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    def synthesize(self, text: str, **kw: Any) -> Any:
        self.texts.append(text)
        return super().synthesize(text, **kw)


@dataclass
class CloudAgent:
    server: RunningServer
    watchers: CallWatchers
    db_path: Path
    deepgram: FakeDeepgramServer
    llm: FakeAnthropicServer | FakeGeminiServer | FakeOpenAIServer
    tts: RecordingTTS
    pipeline: CloudPipeline

    @property
    def url(self) -> str:
        return self.server.ws_url("/twilio/media")

    def llm_bodies(self) -> list[dict[str, Any]]:
        return self.llm.bodies


def _llm_fake(provider: str) -> FakeAnthropicServer | FakeGeminiServer | FakeOpenAIServer:
    if provider == "anthropic":
        return FakeAnthropicServer(api_key="sk-ant-test")
    if provider == "gemini":
        return FakeGeminiServer(api_key="gm-test")
    return FakeOpenAIServer(api_key="sk-test", rule=model_rule)


def _env(provider: str, fake: Any, deepgram: FakeDeepgramServer, data: Path) -> dict[str, str]:
    env = {
        "VOICEFLOW_DATA_DIR": str(data),
        "VOICEFLOW_STT": "deepgram",
        "DEEPGRAM_API_KEY": "dg-test",
        "VOICEFLOW_DEEPGRAM_URL": deepgram.url,
        "VOICEFLOW_LLM": provider,
    }
    if provider == "anthropic":
        env |= {"ANTHROPIC_API_KEY": "sk-ant-test", "VOICEFLOW_ANTHROPIC_URL": fake.base_url}
    elif provider == "gemini":
        env |= {"GEMINI_API_KEY": "gm-test", "VOICEFLOW_GEMINI_URL": fake.base_url}
    else:
        env |= {"OPENAI_API_KEY": "sk-test", "VOICEFLOW_OPENAI_URL": fake.base_url}
    return env


@asynccontextmanager
async def cloud_agent(
    provider: str, data: Path, env: dict[str, str] | None = None, **pipeline_options: Any
) -> AsyncIterator[CloudAgent]:
    async with AsyncExitStack() as stack:
        deepgram = await stack.enter_async_context(
            # the phone line's channel and the domain language model, as the offline pipeline hears calls
            FakeDeepgramServer(
                api_key="dg-test", recognizer=lambda rate: PocketsphinxEngine(channel="phone", domain_lm=True)
            )
        )
        llm = _llm_fake(provider)
        await stack.enter_async_context(llm)
        config = Config.from_env(_env(provider, llm, deepgram, data) | (env or {}))
        tts = RecordingTTS()
        pipeline = CloudPipeline(config, tts=tts, **pipeline_options)
        app = create_app(pipeline, config.server)
        watchers = CallWatchers(app.state.voiceflow.calls)
        server = await stack.enter_async_context(serve_in_background(app, startup_timeout_s=600))
        yield CloudAgent(server, watchers, data / "voiceflow.db", deepgram, llm, tts, pipeline)
