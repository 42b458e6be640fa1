"""Speech to text: the engine interface, the offline pocketsphinx engine, the STT processor."""

from voiceflow.processors.stt.engine import FinalTranscript, STTEngine, STTInputError, STTSession
from voiceflow.processors.stt.pocketsphinx_engine import (
    CHANNEL_CMN,
    DEFAULT_HINTS,
    PocketsphinxEngine,
    PocketsphinxSession,
    decoders_created,
)
from voiceflow.processors.stt.processor import STTProcessor

__all__ = [
    "CHANNEL_CMN",
    "DEFAULT_HINTS",
    "FinalTranscript",
    "PocketsphinxEngine",
    "PocketsphinxSession",
    "STTEngine",
    "STTInputError",
    "STTProcessor",
    "STTSession",
    "decoders_created",
]
