"""The text-to-speech engine interface.

An engine turns one piece of text into a stream of PCM16 mono chunks at its
``sample_rate``. Streaming is the point: the first chunk should leave as soon as
the first clause is synthesized. Closing the iterator early (an interruption)
must stop the engine's work promptly.

Lifecycle (``voiceflow.services.lifecycle.Service``): ``start(clock)`` loads the
voice or opens the connection pool once and adopts the clock for any timing the
engine does; it is idempotent and cheap after the first call, because one engine
is shared by every call and each call's ``TTSProcessor`` starts it. ``aclose``
releases what ``start`` took (idempotent); the owner of the engine calls it, never
a processor. ``tests/contracts/test_tts_contract.py`` is what every adapter passes.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Protocol

from voiceflow.services.lifecycle import Service
from voiceflow.services.tts.prosody import NEUTRAL, Prosody


class TTSError(RuntimeError):
    """Synthesis failed (engine error, bad input, every engine of a router down)."""


class TTSEngine(Service, Protocol):
    """``name``, ``start(clock)`` and ``aclose()`` come from ``Service``."""

    #: when True the engine takes SSML as its text; otherwise the processor renders SSML first
    supports_ssml: bool

    @property
    def sample_rate(self) -> int: ...

    def synthesize(self, text: str, *, prosody: Prosody = NEUTRAL) -> AsyncGenerator[bytes, None]:
        """Stream PCM16 mono chunks of ``text`` spoken with ``prosody``; bad input raises TTSError.

        A generator, so the consumer can ``aclose`` it: that stops the synthesis.
        """
        ...


@dataclass(frozen=True, slots=True)
class WordTime:
    """When a word is spoken: seconds from the start of the utterance's audio.

    Cloud voices that report it (``word_times = True``: Cartesia's word timestamps, ElevenLabs'
    character alignment) fill the ``words`` list ``synthesize`` is given as the audio comes, so a
    failover can resume at the first word whose audio was not all delivered."""

    word: str
    start: float
    end: float


def silence(seconds: float, sample_rate: int) -> bytes:
    """PCM16 silence (used to render SSML breaks)."""
    return bytes(2 * max(0, round(seconds * sample_rate)))


class TTSProviderError(TTSError):
    """A cloud voice refused or failed a request: which provider, its status, whether a retry may help."""

    def __init__(self, provider: str, status: str, message: str, *, code: int | None = None) -> None:
        self.provider = provider
        self.status = status
        self.code = code
        #: rate limits and server trouble pass; a bad key, a missing voice or no quota do not
        self.retryable = status in RETRYABLE
        where = f" (close code {code})" if code is not None else ""
        super().__init__(f"{provider}: {status}: {message}{where}")


RETRYABLE = frozenset({"rate_limited", "too_many_concurrent_requests", "server_error", "connection_lost"})
