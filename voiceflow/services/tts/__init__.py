"""Text-to-speech engines: the contract, shared helpers (clauses, prosody, SSML, text
normalisation), the router that composes engines, and the vendor adapters (``piper``).

piper-tts (GPL-3.0) is imported only inside ``voiceflow.services.tts.piper``'s functions.
"""

from voiceflow.services.tts.clauses import ClauseSplitter, split_clauses
from voiceflow.services.tts.engine import TTSEngine, TTSError, silence
from voiceflow.services.tts.prosody import EMOTION_PROSODY, EMOTIONS, NEUTRAL, Prosody, prosody_for
from voiceflow.services.tts.router import POLICIES, Policy, RoutedEngine, TTSRouter
from voiceflow.services.tts.ssml import Pause, Segment, Speech, SSMLBuilder, SSMLError, plain_text, render

__all__ = [
    "EMOTIONS",
    "EMOTION_PROSODY",
    "NEUTRAL",
    "POLICIES",
    "ClauseSplitter",
    "Pause",
    "Policy",
    "Prosody",
    "RoutedEngine",
    "SSMLBuilder",
    "SSMLError",
    "Segment",
    "Speech",
    "TTSEngine",
    "TTSError",
    "TTSRouter",
    "plain_text",
    "prosody_for",
    "render",
    "silence",
    "split_clauses",
]
