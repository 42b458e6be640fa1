"""The speech-to-speech contract: one live session with a provider, in provider-neutral events.

An engine (``RealtimeEngine``) opens sessions; a session (``RealtimeSession``) takes
caller audio in its input format and gives back a stream of ``RealtimeEvent``s: server
VAD, the caller's transcript, the agent's audio and transcript, function calls, the
end of each response, rate limits and errors. The processor
(``voiceflow.processors.realtime``) speaks only this contract; an adapter
(``openai.py``) maps its provider's wire events onto it.

Audio formats are the wire names: ``audio/pcmu`` (8 kHz mu-law bytes, a Twilio call's
own audio, passed through untouched) and ``audio/pcm`` (PCM16 at 24 kHz).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from voiceflow.services.lifecycle import Service
from voiceflow.services.llm.tools import ToolSpec

AudioFormat = Literal["audio/pcmu", "audio/pcm"]
#: sample rate of each format
FORMAT_RATES: dict[str, int] = {"audio/pcmu": 8000, "audio/pcm": 24000}


class RealtimeError(Exception):
    """A session could not be opened, or a send failed (the socket is gone)."""


@dataclass(frozen=True)
class SessionConfig:
    instructions: str
    voice: str
    input_format: AudioFormat
    output_format: AudioFormat
    #: ``{"type": "server_vad", "threshold": .., "silence_duration_ms": .., "prefix_padding_ms": ..}``
    #: or ``{"type": "semantic_vad", "eagerness": ..}``
    turn_detection: dict[str, Any]
    tools: Sequence[ToolSpec] = ()
    transcription_model: str = "gpt-4o-mini-transcribe"


# -- events -------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SpeechStarted:
    item_id: str
    audio_start_ms: int


@dataclass(frozen=True, slots=True)
class SpeechStopped:
    item_id: str
    audio_end_ms: int


@dataclass(frozen=True, slots=True)
class UserTranscript:
    item_id: str
    text: str


@dataclass(frozen=True, slots=True)
class AudioDelta:
    response_id: str
    item_id: str
    audio: bytes  # in the session's output format


@dataclass(frozen=True, slots=True)
class TranscriptDelta:
    response_id: str
    item_id: str
    text: str


@dataclass(frozen=True, slots=True)
class FunctionCall:
    response_id: str
    item_id: str
    call_id: str
    name: str
    arguments: str  # JSON text as the model produced it (may be malformed)


@dataclass(frozen=True, slots=True)
class ResponseCreated:
    response_id: str


@dataclass(frozen=True, slots=True)
class ResponseDone:
    response_id: str
    status: str  # completed | cancelled | failed | incomplete
    usage: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RateLimits:
    limits: dict[str, dict[str, Any]]  # name -> {"limit", "remaining", "reset_seconds"}


ErrorKind = Literal["invalid_request", "server", "rate_limit", "session_expired", "malformed"]


@dataclass(frozen=True, slots=True)
class ServerError:
    """The provider's ``error`` event (or an event we could not read: ``kind="malformed"``)."""

    kind: ErrorKind
    code: str
    message: str


RealtimeEvent = (
    SpeechStarted
    | SpeechStopped
    | UserTranscript
    | AudioDelta
    | TranscriptDelta
    | FunctionCall
    | ResponseCreated
    | ResponseDone
    | RateLimits
    | ServerError
)


class RealtimeSession(Protocol):
    async def send_audio(self, audio: bytes) -> None:
        """Caller audio in the session's input format."""

    async def create_response(self, instructions: str | None = None) -> None:
        """Ask for a response (``instructions``: for this one only, replacing the session's)."""

    async def cancel_response(self) -> None: ...

    async def truncate(self, item_id: str, audio_end_ms: int) -> None:
        """The caller heard ``audio_end_ms`` of assistant item ``item_id``; the rest is forgotten."""

    async def add_message(self, role: Literal["user", "assistant"], text: str) -> None:
        """Restore a past turn (after a reconnect)."""

    async def add_function_call(self, call_id: str, name: str, arguments: str) -> None:
        """Restore a past function call (after a reconnect); its output follows."""

    async def send_function_output(self, call_id: str, output: str) -> None: ...

    def events(self) -> AsyncIterator[RealtimeEvent]:
        """Events until the socket closes (then the iterator ends; ``closed_reason`` says why)."""
        ...

    @property
    def closed_reason(self) -> str | None: ...

    async def aclose(self) -> None: ...


class RealtimeEngine(Service, Protocol):
    async def connect(self, config: SessionConfig) -> RealtimeSession:
        """Open a session configured with ``config``; ``RealtimeError`` when it cannot be opened."""
        ...
