"""Every provider of the cloud pipeline as a local fake: ``voiceflow call --pipeline cloud --fake-providers``.

``start_cloud_fakes(stack)`` starts Deepgram's fake (it hears with pocketsphinx), Anthropic's
fake (its rule-based model reads the tools and the caller's words), and the ElevenLabs and
Cartesia fakes with typical first-audio latencies, all closed with ``stack``, and returns the
settings (environment names) that point ``pipelines/cloud.py`` at them. No key, no network.
"""

from __future__ import annotations

from contextlib import AsyncExitStack

from voiceflow.testing.fakes.anthropic_server import FakeAnthropicServer
from voiceflow.testing.fakes.cloud_voices import start_cloud_voices
from voiceflow.testing.fakes.deepgram_server import FakeDeepgramServer


async def start_cloud_fakes(stack: AsyncExitStack) -> dict[str, str]:
    deepgram = await stack.enter_async_context(FakeDeepgramServer(api_key="dg-fake"))
    anthropic = await stack.enter_async_context(FakeAnthropicServer(api_key="sk-ant-fake"))
    return {
        "VOICEFLOW_STT": "deepgram",
        "DEEPGRAM_API_KEY": "dg-fake",
        "VOICEFLOW_DEEPGRAM_URL": deepgram.url,
        "VOICEFLOW_LLM": "anthropic",
        "ANTHROPIC_API_KEY": "sk-ant-fake",
        "VOICEFLOW_ANTHROPIC_URL": anthropic.base_url,
        **await start_cloud_voices(stack),
    }
