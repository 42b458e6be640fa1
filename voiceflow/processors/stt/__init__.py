"""The STT processor: audio in, transcripts out, through any ``voiceflow.services.stt`` engine."""

from voiceflow.processors.stt.processor import STTProcessor

__all__ = ["STTProcessor"]
