"""The TTS processor: text and LLM tokens in, audio out, through any ``voiceflow.services.tts`` engine."""

from voiceflow.processors.tts.processor import TTSProcessor

__all__ = ["TTSProcessor"]
