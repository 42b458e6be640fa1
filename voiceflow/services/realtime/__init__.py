"""Speech-to-speech providers: the session contract (``engine``) and one adapter per vendor."""

from voiceflow.services.realtime.engine import RealtimeEngine, RealtimeError, RealtimeSession, SessionConfig

__all__ = ["RealtimeEngine", "RealtimeError", "RealtimeSession", "SessionConfig"]
