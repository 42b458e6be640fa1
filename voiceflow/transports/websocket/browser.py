"""One browser WebSocket (``/ws``): linear16 in, paced linear16 and JSON events out.

Client -> server: binary frames of PCM16 16 kHz mono (any size; re-framed to
20 ms) and optional JSON text: ``{"type": "start", "caller": ...}`` (else the
first audio starts the call), ``{"type": "dtmf", "digit": "5"}``,
``{"type": "stop"}`` (ends the call; the socket then closes).
Server -> client: ``{"type": "started", "call_id"}``, agent audio as binary
PCM16 16 kHz at real time, and the events of ``WebSocketOutput``
(``transcript``, ``interrupt``, ``latency``) plus ``{"type": "error",
"message"}`` for each ignored message.
"""

from __future__ import annotations

import json
import logging
import uuid

from voiceflow.calls import CallContext
from voiceflow.guard.json_limits import loads_bounded
from voiceflow.transports.websocket.call import SocketCall
from voiceflow.transports.websocket.input import PcmInput
from voiceflow.transports.websocket.output import WebSocketOutput, WebSocketWire

log = logging.getLogger("voiceflow.transports.websocket")

__all__ = ["BrowserCall", "WebSocketInput"]


class WebSocketInput(PcmInput):
    """Source of a browser call's graph: PCM16 16 kHz in any chunk size -> 20 ms ``AudioRaw``."""

    def __init__(self, *, name: str | None = None, in_rate: int = 16000) -> None:
        super().__init__(name=name or "ws_in", in_rate=in_rate)


class BrowserCall(SocketCall):
    """Serves one ``/ws`` socket (see module doc)."""

    transport = "websocket"
    wire: WebSocketWire | None

    async def on_bytes(self, data: bytes) -> bool:
        if self.session is None and not await self._start(None):
            return True
        assert self.input is not None
        await self.input.feed_pcm(data)
        return False

    async def on_text(self, text: str) -> bool:
        try:
            msg = loads_bounded(text, max_bytes=self.max_message_bytes)
        except ValueError as exc:
            await self.garbage("invalid", f"a text message that is {exc}")
            return False
        kind = msg.get("type") if isinstance(msg, dict) else None
        if kind == "stop":
            return True
        if kind == "start":
            caller = msg.get("caller")
            if self.session is not None:
                await self.garbage("duplicate_start", "a second 'start'")
                return False
            return not await self._start(caller if isinstance(caller, str) else None)
        if kind == "dtmf":
            if self.session is None and not await self._start(None):
                return True
            assert self.input is not None
            try:
                await self.input.feed_dtmf(str(msg.get("digit")))
            except ValueError as exc:
                await self.garbage("dtmf", str(exc))
            return False
        await self.garbage("unknown", f"message type {kind!r:.40} (expected start, dtmf or stop)")
        return False

    async def on_garbage(self, kind: str, detail: str, first: bool) -> None:
        await super().on_garbage(kind, detail, first)
        if self.close_code is None:
            try:
                await self.socket.send_text(json.dumps({"type": "error", "message": f"ignored {detail}"}))
            except Exception as exc:  # the peer is gone; the receive loop will see it
                log.debug("%s: error event not sent: %s", self.label, exc)

    async def _start(self, caller: str | None) -> bool:
        wire = WebSocketWire(self.socket)
        self.wire = wire
        ctx = CallContext(call_id=f"ws-{uuid.uuid4().hex[:12]}", transport="websocket", caller=caller)
        if not await self.open_call(ctx, WebSocketInput(), WebSocketOutput(wire)):
            return False
        await wire.send_event({"type": "started", "call_id": ctx.call_id})
        return True
