"""The STT processor: audio in, transcripts out, through any ``voiceflow.services.stt`` engine."""

from voiceflow.processors.stt.engine_turns import EngineEndpointer
from voiceflow.processors.stt.processor import STTProcessor

__all__ = ["EngineEndpointer", "STTProcessor"]
