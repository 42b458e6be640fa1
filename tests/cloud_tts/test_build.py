"""The cloud voice from the settings: keys checked at start-up, a phone line gets μ-law untouched,
both line kinds share one breaker per provider."""

from __future__ import annotations

import pytest

from voiceflow.config import Config, ConfigError
from voiceflow.graphs import VirtualClock
from voiceflow.processors.audio.codecs import ulaw_encode
from voiceflow.services.tts import TTSRouter
from voiceflow.services.tts.build import VoiceSet
from voiceflow.services.tts.piper import PiperEngine
from voiceflow.testing.fakes import tts_audio
from voiceflow.testing.fakes.cartesia_server import FakeCartesiaServer
from voiceflow.testing.fakes.elevenlabs_server import FakeElevenLabsServer


@pytest.mark.parametrize("engine", ["elevenlabs", "cartesia"])
def test_a_chosen_voice_without_its_key_is_an_error_at_start_up(engine: str) -> None:
    with pytest.raises(ConfigError, match=f"{engine.upper()}_API_KEY"):
        VoiceSet(Config.from_env({"VOICEFLOW_TTS": engine}).tts, PiperEngine())


async def test_phone_calls_get_mulaw_untouched_and_providers_share_a_breaker() -> None:
    async with FakeElevenLabsServer() as eleven, FakeCartesiaServer() as cartesia:
        env = {
            "VOICEFLOW_TTS_POLICY": "quality",
            "ELEVENLABS_API_KEY": eleven.api_key,
            "VOICEFLOW_ELEVENLABS_URL": eleven.http_url,
            "CARTESIA_API_KEY": cartesia.api_key,
            "VOICEFLOW_CARTESIA_URL": cartesia.http_url,
        }
        voices = VoiceSet(Config.from_env(env).tts, PiperEngine())
        phone, wide = voices.voice("phone"), voices.voice("wideband")
        assert isinstance(phone, TTSRouter) and isinstance(wide, TTSRouter)
        assert phone.sample_rate == 8000 and wide.sample_rate == 16000
        try:
            await phone.start(VirtualClock())
            pcm = b"".join([c async for c in phone.synthesize("Your order has shipped.")])
            assert phone.last_engine == "elevenlabs"
            assert ulaw_encode(pcm) == tts_audio.speech("Your order has shipped.", "mulaw", 8000)
            assert phone.engines[0].breaker is wide.engines[0].breaker
        finally:
            await voices.aclose()
