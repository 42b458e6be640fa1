"""The cloud pipeline's voice from the ``tts`` settings: ElevenLabs, Cartesia, Piper or a router of them.

Each line kind gets the format that plays without conversion: a phone line (Twilio)
8 kHz μ-law from both providers, WebRTC and the browser 16 kHz linear PCM. The two
voices of one provider share one circuit breaker, so a provider that is down is
skipped on every kind of line at once. A chosen provider without its key is a clear
``ConfigError`` here, at start-up, not on the first call.
"""

from __future__ import annotations

from typing import Literal

from voiceflow.config import ConfigError, TTSSettings
from voiceflow.services.breaker import CircuitBreaker
from voiceflow.services.tts.cartesia import CartesiaEngine
from voiceflow.services.tts.elevenlabs import ElevenLabsEngine
from voiceflow.services.tts.engine import TTSEngine
from voiceflow.services.tts.router import Policy, RoutedEngine, TTSRouter

Line = Literal["phone", "wideband"]


def check_keys(settings: TTSSettings) -> None:
    """Raise ``ConfigError`` when the chosen voice has no key."""
    if settings.engine == "elevenlabs" and not settings.elevenlabs_api_key:
        raise ConfigError(["VOICEFLOW_TTS=elevenlabs needs ELEVENLABS_API_KEY"])
    if settings.engine == "cartesia" and not settings.cartesia_api_key:
        raise ConfigError(["VOICEFLOW_TTS=cartesia needs CARTESIA_API_KEY"])


def elevenlabs(settings: TTSSettings, line: Line) -> ElevenLabsEngine:
    return ElevenLabsEngine(
        settings.elevenlabs_api_key or "",
        voice_id=settings.elevenlabs_voice,
        model_id=settings.elevenlabs_model,
        output_format="ulaw_8000" if line == "phone" else "pcm_16000",
        language=settings.language,
        base_url=settings.elevenlabs_url,
    )


def cartesia(settings: TTSSettings, line: Line) -> CartesiaEngine:
    return CartesiaEngine(
        settings.cartesia_api_key or "",
        voice_id=settings.cartesia_voice,
        model_id=settings.cartesia_model,
        encoding="pcm_mulaw" if line == "phone" else "pcm_s16le",
        sample_rate=8000 if line == "phone" else 16000,
        language=settings.language,
        base_url=settings.cartesia_url,
    )


class VoiceSet:
    """One voice per line kind, made on first use and shared by every call of that kind."""

    def __init__(self, settings: TTSSettings, fallback: TTSEngine) -> None:
        check_keys(settings)
        self.settings = settings
        self.fallback = fallback
        self.voices: dict[Line, TTSEngine] = {}
        self.breakers = {
            name: CircuitBreaker(failure_threshold=1, cooldown=30.0, name=f"tts:{name}")
            for name in ("elevenlabs", "cartesia")
        }

    def voice(self, line: Line) -> TTSEngine:
        if line not in self.voices:
            self.voices[line] = self._make(line)
        return self.voices[line]

    def _make(self, line: Line) -> TTSEngine:
        s = self.settings
        rate = 8000 if line == "phone" else 16000
        if s.engine == "piper":
            return self.fallback
        entries: list[RoutedEngine] = []
        if s.engine in ("router", "elevenlabs") and s.elevenlabs_api_key:
            entries.append(
                RoutedEngine(
                    elevenlabs(s, line),
                    quality=0.95,
                    speed=0.5,
                    cost=s.elevenlabs_price,
                    breaker=self.breakers["elevenlabs"],
                )
            )
        if s.engine in ("router", "cartesia") and s.cartesia_api_key:
            entries.append(
                RoutedEngine(
                    cartesia(s, line),
                    quality=0.8,
                    speed=0.9,
                    cost=s.cartesia_price,
                    breaker=self.breakers["cartesia"],
                )
            )
        policy: Policy = s.policy  # type: ignore[assignment]  # checked by the setting
        return TTSRouter(
            entries,
            fallback=self.fallback,
            policy=policy,
            first_audio_timeout=s.first_audio_timeout,
            sample_rate=rate,
        )

    async def aclose(self) -> None:
        for voice in self.voices.values():
            await voice.aclose()
        self.voices.clear()
