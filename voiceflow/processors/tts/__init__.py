"""Text to speech: the engine interface, offline Piper, the router, SSML, prosody, the TTS processor.

piper-tts (GPL-3.0) is imported only inside ``PiperEngine``'s functions.
"""

from voiceflow.processors.tts.clauses import ClauseSplitter, split_clauses
from voiceflow.processors.tts.engine import TTSEngine, TTSError, silence
from voiceflow.processors.tts.piper_engine import PiperEngine, load_voice, voice_loads
from voiceflow.processors.tts.processor import TTSProcessor
from voiceflow.processors.tts.prosody import EMOTION_PROSODY, EMOTIONS, NEUTRAL, Prosody, prosody_for
from voiceflow.processors.tts.router import POLICIES, Policy, RoutedEngine, TTSRouter
from voiceflow.processors.tts.ssml import Pause, Segment, Speech, SSMLBuilder, SSMLError, plain_text, render

__all__ = [
    "EMOTIONS",
    "EMOTION_PROSODY",
    "NEUTRAL",
    "POLICIES",
    "ClauseSplitter",
    "Pause",
    "PiperEngine",
    "Policy",
    "Prosody",
    "RoutedEngine",
    "SSMLBuilder",
    "SSMLError",
    "Segment",
    "Speech",
    "TTSEngine",
    "TTSError",
    "TTSProcessor",
    "TTSRouter",
    "load_voice",
    "plain_text",
    "prosody_for",
    "render",
    "silence",
    "split_clauses",
    "voice_loads",
]
