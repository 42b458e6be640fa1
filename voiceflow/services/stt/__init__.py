"""Speech-to-text engines: the streaming contract (``engine.py``) and one file per recognizer.

Vendor modules are not imported here, so importing the contract stays cheap.
"""

from voiceflow.services.stt.engine import (
    Encoding,
    FinalText,
    InterimText,
    SpeechStarted,
    STTClosedError,
    STTEngine,
    STTEvent,
    STTFailure,
    STTInputError,
    STTStream,
    UtteranceEnd,
    Word,
)

__all__ = [
    "Encoding",
    "FinalText",
    "InterimText",
    "STTClosedError",
    "STTEngine",
    "STTEvent",
    "STTFailure",
    "STTInputError",
    "STTStream",
    "SpeechStarted",
    "UtteranceEnd",
    "Word",
]
