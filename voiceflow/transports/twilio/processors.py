"""The two ends of a Twilio call's graph: ``TwilioInput`` (source) and ``TwilioOutput`` (sink).

``TwilioInput`` turns ``media`` payloads (base64 mu-law, 8 kHz) into 20 ms
16 kHz ``AudioRaw`` frames and keypad presses into ``DTMF`` frames.
``TwilioOutput`` is a ``PacedAudioOutput`` writing to a ``TwilioWire``: agent
audio leaves as 20 ms ``media`` messages (160 bytes of mu-law) at real time,
a ``mark`` after each utterance chunk, and ``clear`` on barge-in; Twilio's
mark echoes drive bot-speaking state and playout reports.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from voiceflow.processors.audio.codecs import pcm16_to_ulaw_b64, ulaw_b64_to_pcm16
from voiceflow.transports.playout import PacedAudioOutput
from voiceflow.transports.twilio.protocol import clear_message, mark_message, media_message
from voiceflow.transports.websocket.input import PcmInput

__all__ = ["TWILIO_RATE", "TextSocket", "TwilioInput", "TwilioOutput", "TwilioWire"]

TWILIO_RATE = 8000


class TextSocket(Protocol):
    async def send_text(self, data: str) -> None: ...


class TwilioWire:
    """Outbound Media Streams messages for one stream; ``closed`` once the call is over."""

    sample_rate = TWILIO_RATE
    echoes_marks = True
    #: a Media Stream carries mu-law: agent audio already in it is sent as it came (``send_encoded``)
    codec = "audio/pcmu"

    def __init__(self, socket: TextSocket, stream_sid: str) -> None:
        self.socket = socket
        self.stream_sid = stream_sid
        self._closed = False
        self.media_sent = 0

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        self._closed = True

    async def send_audio(self, pcm16: bytes) -> None:
        await self.socket.send_text(media_message(self.stream_sid, pcm16_to_ulaw_b64(pcm16)))
        self.media_sent += 1

    async def send_encoded(self, data: bytes) -> None:
        """One frame of mu-law as it came (e.g. a Realtime session's ``audio/pcmu``): no re-encode."""
        await self.socket.send_text(media_message(self.stream_sid, base64.b64encode(data).decode("ascii")))
        self.media_sent += 1

    async def send_mark(self, name: str) -> None:
        await self.socket.send_text(mark_message(self.stream_sid, name))

    async def send_clear(self) -> None:
        await self.socket.send_text(clear_message(self.stream_sid))

    async def send_event(self, event: dict[str, Any]) -> None:
        """Media Streams has no side channel: events stay in the graph (Metrics frames)."""


class TwilioInput(PcmInput):
    """Source of a Twilio call's graph: mu-law 8 kHz in, ``AudioRaw`` 16 kHz 20 ms and ``DTMF`` out."""

    transport = "twilio"

    def __init__(self, *, name: str | None = None) -> None:
        super().__init__(name=name or "twilio_in", in_rate=TWILIO_RATE)
        #: called with each payload's mu-law bytes as they arrive (a cloud recognizer that takes
        #: the wire's audio as it is, e.g. ``STTProcessor(audio="external").send_external``)
        self.wire_taps: list[Callable[[bytes], Awaitable[None]]] = []

    async def feed_media(self, payload_b64: str) -> None:
        """One ``media.payload``; raises ``AudioFormatError`` for bad base64 (nothing is pushed)."""
        pcm = ulaw_b64_to_pcm16(payload_b64)
        if self.wire_taps and self.accepting:
            ulaw = base64.b64decode(payload_b64)  # valid: it decoded above
            for tap in self.wire_taps:
                await tap(ulaw)
        await self.feed_pcm(pcm)


class TwilioOutput(PacedAudioOutput):
    """Sink of a Twilio call's graph (see ``PacedAudioOutput`` for pacing and playout tracking)."""

    def __init__(self, wire: TwilioWire, *, name: str | None = None, **options: Any) -> None:
        super().__init__(wire, name=name or "twilio_out", **options)
