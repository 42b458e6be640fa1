"""Both cloud-voice fakes at once, for ``voiceflow call --fake-providers`` and benchmarks.

``start_cloud_voices(stack)`` starts the ElevenLabs and Cartesia fakes (closed with
``stack``) with typical first-audio latencies injected, and returns the settings
(environment names) that point the cloud pipeline's voices at them.
"""

from __future__ import annotations

from contextlib import AsyncExitStack

from voiceflow.testing.fakes.cartesia_server import FakeCartesiaServer
from voiceflow.testing.fakes.elevenlabs_server import FakeElevenLabsServer

#: first-audio latencies assumed for a real call (see the README's cloud-voices benchmark)
ELEVENLABS_FIRST_AUDIO_S = 0.15
CARTESIA_FIRST_AUDIO_S = 0.09


async def start_cloud_voices(
    stack: AsyncExitStack,
    *,
    elevenlabs_latency: float = ELEVENLABS_FIRST_AUDIO_S,
    cartesia_latency: float = CARTESIA_FIRST_AUDIO_S,
) -> dict[str, str]:
    eleven = await stack.enter_async_context(FakeElevenLabsServer())
    cartesia = await stack.enter_async_context(FakeCartesiaServer())
    eleven.faults.first_audio_delay_s = elevenlabs_latency
    cartesia.faults.first_audio_delay_s = cartesia_latency
    return {
        "ELEVENLABS_API_KEY": eleven.api_key,
        "VOICEFLOW_ELEVENLABS_URL": eleven.http_url,
        "CARTESIA_API_KEY": cartesia.api_key,
        "VOICEFLOW_CARTESIA_URL": cartesia.http_url,
    }
