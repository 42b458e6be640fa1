"""The frame vocabulary. One module per family; everything is re-exported here."""

from voiceflow.frames.audio import AudioRaw, EncodedTTSAudio, TTSAudio
from voiceflow.frames.base import Frame, FrameContext, Lane, Origin, evolve
from voiceflow.frames.control import DTMF, Cancel, End, Error, Interrupt, Metrics, Start
from voiceflow.frames.playout import Mark, PlayoutReport, ResumeSpeaking
from voiceflow.frames.speech import (
    BotStartedSpeaking,
    BotStoppedSpeaking,
    EndOfTurnScore,
    UserStartedSpeaking,
    UserStoppedSpeaking,
    VoicePaused,
    VoiceStarted,
    VoiceStopped,
)
from voiceflow.frames.text import Intent, LLMResponseEnd, LLMToken, OfflineTurn, TextToSpeak, Transcript
from voiceflow.frames.tools import ToolCall, ToolResult

__all__ = [
    "DTMF",
    "AudioRaw",
    "BotStartedSpeaking",
    "BotStoppedSpeaking",
    "Cancel",
    "EncodedTTSAudio",
    "End",
    "EndOfTurnScore",
    "Error",
    "Frame",
    "FrameContext",
    "Intent",
    "Interrupt",
    "LLMResponseEnd",
    "LLMToken",
    "Lane",
    "Mark",
    "Metrics",
    "OfflineTurn",
    "Origin",
    "PlayoutReport",
    "ResumeSpeaking",
    "Start",
    "TTSAudio",
    "TextToSpeak",
    "ToolCall",
    "ToolResult",
    "Transcript",
    "UserStartedSpeaking",
    "UserStoppedSpeaking",
    "VoicePaused",
    "VoiceStarted",
    "VoiceStopped",
    "evolve",
]
