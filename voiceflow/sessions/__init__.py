"""Call sessions shared across instances: records in Redis (memory when it is down) and pub/sub commands.

``CallSessions.from_settings(config.sessions)`` makes one per process; ``attach``
plugs it into the ``CallRegistry``. See ``store`` (records, fallback, resync),
``bus`` (commands to the owning instance, live-call counts) and ``calls`` (the
registry hooks and the built-in ``hangup`` / ``transfer`` commands).
"""

from voiceflow.sessions.backend import RedisBackend, StoreUnavailable
from voiceflow.sessions.bus import Command, CommandBus, CommandFailed
from voiceflow.sessions.calls import CallSessions, SessionObserver
from voiceflow.sessions.record import CorruptSession, SessionRecord
from voiceflow.sessions.store import InstanceInfo, SessionStore

__all__ = [
    "CallSessions",
    "Command",
    "CommandBus",
    "CommandFailed",
    "CorruptSession",
    "InstanceInfo",
    "RedisBackend",
    "SessionObserver",
    "SessionRecord",
    "SessionStore",
    "StoreUnavailable",
]
