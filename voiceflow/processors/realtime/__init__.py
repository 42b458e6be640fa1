"""The speech-to-speech path: a Realtime session as one processor, and the mode switch to the cascade."""

from voiceflow.processors.realtime.audio import InputEncoder, decode_output
from voiceflow.processors.realtime.mode import ModeRouter
from voiceflow.processors.realtime.processor import BRIDGE_LINE, RealtimeProcessor
from voiceflow.processors.realtime.standby import StandbySTT

__all__ = ["BRIDGE_LINE", "InputEncoder", "ModeRouter", "RealtimeProcessor", "StandbySTT", "decode_output"]
