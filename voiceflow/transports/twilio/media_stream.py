"""One Twilio Media Streams WebSocket: the protocol on top of ``SocketCall``.

``start`` opens the call (call id = ``callSid``, caller from the stream's
custom parameters) with a ``TwilioInput``/``TwilioOutput`` pair; ``media`` and
``dtmf`` feed the input, ``mark`` echoes feed the output's playout tracking;
``stop`` or the socket closing ends the run (drained with a timeout, then
cancelled); when the pipeline ends the call the socket is closed with 1000.

Ignored (logged, reported to the graph once per kind): invalid JSON, bad
base64, unknown events, ``media``/``dtmf``/``mark`` before ``start``, a second
``start``, binary frames, wrong field types, messages for another stream. An
unusable ``start`` (bad media format, no call SID) closes with 1008, a message
over the size limit with 1009 (see ``SocketCall``).

With ``tokens``, a ``start`` must carry the one-time token the webhook put in
the TwiML, bound to this CallSid and caller; otherwise the socket closes with
1008 and nothing is built or recorded. The caller's number is then the one the
signed webhook saw (the token proves it), never one the socket made up.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.websockets import WebSocket

from voiceflow.calls import CallContext
from voiceflow.guard.tokens import StreamTokens, TokenError
from voiceflow.processors.audio.errors import AudioFormatError
from voiceflow.transports.twilio.processors import TwilioInput, TwilioOutput, TwilioWire
from voiceflow.transports.twilio.protocol import (
    ProtocolError,
    dtmf_digit,
    mark_name,
    media_payload,
    parse_message,
    parse_start,
)
from voiceflow.transports.twilio.twiml import stream_subject
from voiceflow.transports.websocket.call import CLOSE_POLICY, SocketCall

log = logging.getLogger("voiceflow.transports.twilio")

__all__ = ["TwilioMediaStream"]

INBOUND_TRACKS = ("inbound", "inbound_track")


class TwilioMediaStream(SocketCall):
    """Serves one ``/twilio/media`` WebSocket (see module doc)."""

    transport = "twilio"
    input: TwilioInput | None
    output: TwilioOutput | None

    stream_sid: str | None = None

    def __init__(self, socket: WebSocket, *, tokens: StreamTokens | None = None, **options: Any) -> None:
        super().__init__(socket, **options)
        self.tokens = tokens
        self.per_address = False

    async def on_bytes(self, data: bytes) -> bool:
        await self.garbage("binary", "a binary frame (Media Streams sends JSON text)")
        return False

    async def on_text(self, text: str) -> bool:
        try:
            event, msg = parse_message(text)
        except ProtocolError as exc:
            await self.garbage("invalid", str(exc))
            return False
        sid = msg.get("streamSid")
        if self.stream_sid is not None and sid is not None and sid != self.stream_sid:
            await self.garbage("foreign", f"'{event}' for stream {sid!r:.40}, this is {self.stream_sid}")
            return False
        if event == "stop":
            return True
        try:
            await self._dispatch(event, msg)
        except (ProtocolError, AudioFormatError, ValueError) as exc:
            await self.garbage(event if event in ("media", "dtmf", "mark") else "invalid", f"{event}: {exc}")
        return False

    async def _dispatch(self, event: str, msg: dict[str, Any]) -> None:
        if event == "connected":
            return
        if event == "start":
            await self._start(msg)
            return
        if event not in ("media", "dtmf", "mark"):
            await self.garbage("unknown", f"unknown event {event!r:.40}")
            return
        if self.input is None or self.output is None or self.session is None:
            await self.garbage("before_start", f"'{event}' before 'start'")
            return
        if event == "media":
            track, payload = media_payload(msg)
            if track in INBOUND_TRACKS:
                await self.input.feed_media(payload)
        elif event == "dtmf":
            await self.input.feed_dtmf(dtmf_digit(msg))
        else:
            self.output.mark_echoed(mark_name(msg))

    async def _start(self, msg: dict[str, Any]) -> None:
        if self.session is not None or self.stream_sid is not None:
            await self.garbage("duplicate_start", "a second 'start' on one stream")
            return
        try:
            info = parse_start(msg)
        except ProtocolError as exc:
            log.warning("twilio stream: unusable start: %s", exc)
            await self.close(CLOSE_POLICY, "invalid start")
            return
        caller = info.custom_parameters.get("caller")
        if self.tokens is not None:
            try:
                outbound = info.custom_parameters.get("direction") == "outbound"
                self.tokens.consume(
                    stream_subject(info.call_sid, caller, outbound=outbound),
                    info.custom_parameters.get("token"),
                )
            except TokenError as exc:
                log.warning("twilio stream for %.40s refused: %s", info.call_sid, exc)
                await self.close(CLOSE_POLICY, "stream not authorised")
                return
        self.stream_sid = info.stream_sid
        wire = TwilioWire(self.socket, info.stream_sid)
        self.wire = wire
        ctx = CallContext(
            call_id=info.call_sid,
            transport="twilio",
            caller=caller,
            metadata={
                "stream_sid": info.stream_sid,
                "account_sid": info.account_sid,
                "custom_parameters": {k: v for k, v in info.custom_parameters.items() if k != "token"},
            },
        )
        await self.open_call(ctx, TwilioInput(), TwilioOutput(wire))
