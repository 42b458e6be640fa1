"""One WebSocket carrying one call: what the Twilio and browser socket handlers share.

``SocketCall.serve()`` accepts the socket and reads it until it closes; the
protocol subclass handles text and binary messages (``on_text``/``on_bytes``)
and opens the call with ``open_call`` (one graph run in the ``CallRegistry``).
This base enforces the message size limit (close 1009), counts and logs
garbage (first of a kind at WARNING; a flood closes with 1008), closes the
socket with 1000 when the pipeline ends the call, and at the end drains the
run (with a timeout, then cancels). Nothing a peer sends can raise out of here.

With an ``Admission``, ``open_call`` first takes a slot (released when the call
ends); when none is free the socket closes with 1013 (try again later).
The reader never waits on the pipeline (``PcmInput`` drops oldest audio), so
keepalive pings are always read and answered.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import ClassVar, Protocol

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from voiceflow.calls import CallContext, CallRegistry, CallSession, PipelineFactory
from voiceflow.guard.admission import Admission, Full, Slot
from voiceflow.transports.playout import PacedAudioOutput
from voiceflow.transports.websocket.input import PcmInput

log = logging.getLogger("voiceflow.transports.socket")

__all__ = ["CLOSE_ERROR", "CLOSE_NORMAL", "CLOSE_POLICY", "CLOSE_TOO_BIG", "CLOSE_TRY_LATER", "SocketCall"]

CLOSE_NORMAL = 1000
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_ERROR = 1011
CLOSE_TRY_LATER = 1013


class ClosableWire(Protocol):
    def close(self) -> None: ...


class SocketCall:
    """Base of a per-socket call handler (see module doc)."""

    transport: ClassVar[str] = "socket"

    def __init__(
        self,
        socket: WebSocket,
        *,
        calls: CallRegistry,
        factory: PipelineFactory,
        max_message_bytes: int = 64 * 1024,
        max_garbage: int = 200,
        end_timeout_s: float = 10.0,
        admission: Admission | None = None,
        address: str | None = None,
    ) -> None:
        self.socket = socket
        self.calls = calls
        self.factory = factory
        self.max_message_bytes = max_message_bytes
        self.max_garbage = max_garbage
        self.end_timeout_s = end_timeout_s
        self.ignored: Counter[str] = Counter()
        self.session: CallSession | None = None
        self.input: PcmInput | None = None
        self.output: PacedAudioOutput | None = None
        self.wire: ClosableWire | None = None
        self.close_code: int | None = None
        self._watch: asyncio.Task[None] | None = None
        self.admission = admission
        self.address = address
        self.slot: Slot | None = None
        #: whether this protocol's calls take a per-address share (Twilio's all come from Twilio)
        self.per_address = True

    @property
    def label(self) -> str:
        return f"{self.transport} call {self.session.ctx.call_id if self.session else '(not started)'}"

    # -- protocol hooks ---------------------------------------------------------------------
    async def on_text(self, text: str) -> bool:
        """Handle a text message; True ends the call (the peer said stop)."""
        raise NotImplementedError

    async def on_bytes(self, data: bytes) -> bool:
        """Handle a binary message; True ends the call."""
        raise NotImplementedError

    async def on_garbage(self, kind: str, detail: str, first: bool) -> None:
        """Tell the peer or the graph about ignored input (default: the graph, once per kind)."""
        if first and self.input is not None:
            await self.input.report(f"{self.transport}: ignored {detail}")

    # -- the socket's life --------------------------------------------------------------------
    async def serve(self) -> None:
        await self.socket.accept()
        try:
            await self._receive_loop()
        except WebSocketDisconnect:  # the peer left while we were writing to it: a normal end
            log.debug("%s: the peer disconnected", self.label)
        except Exception:
            log.exception("%s failed", self.label)
            await self.close(CLOSE_ERROR, "internal error")
        finally:
            await self._end_call()
            await self.close(CLOSE_NORMAL, "call ended")

    async def _receive_loop(self) -> None:
        while self.close_code is None:
            message = await self.socket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text, data = message.get("text"), message.get("bytes")
            size = len(text) if text is not None else len(data or b"")
            if size > self.max_message_bytes:
                log.warning(
                    "%s: %d-byte message over the %d-byte limit", self.label, size, self.max_message_bytes
                )
                await self.close(CLOSE_TOO_BIG, f"message over {self.max_message_bytes} bytes")
                return
            stop = await self.on_text(text) if text is not None else await self.on_bytes(data or b"")
            if stop:
                return
            if sum(self.ignored.values()) > self.max_garbage:
                await self.close(CLOSE_POLICY, "too many invalid messages")
                return

    async def open_call(self, ctx: CallContext, input: PcmInput, output: PacedAudioOutput) -> bool:
        """Start the call's graph run; on failure the socket is closed (1008 duplicate, 1011 broken)."""
        self.input, self.output = input, output
        if ctx.call_id in self.calls.calls:
            log.warning("%s: call %s is already live on another socket", self.transport, ctx.call_id)
            await self.close(CLOSE_POLICY, "call already live")
            return False
        if self.admission is not None:
            try:
                self.slot = self.admission.acquire(self.address, per_address=self.per_address)
            except Full as exc:
                await self.close(CLOSE_TRY_LATER, f"server full; retry after {exc.retry_after_s} s")
                return False
        try:
            self.session = await self.calls.open(ctx, self.factory, input, output)
        except Exception:
            log.exception("%s call %s: pipeline failed to start", self.transport, ctx.call_id)
            await self.close(CLOSE_ERROR, "pipeline failed to start")
            return False
        log.info("%s started (caller %s)", self.label, ctx.caller)
        self._watch = asyncio.create_task(self._close_when_run_ends(), name=f"watch:{ctx.call_id}")
        return True

    async def _close_when_run_ends(self) -> None:
        assert self.session is not None
        try:
            await self.session.run.wait()
        except Exception as exc:  # a failed run still ends the call
            log.warning("%s: run ended with %s", self.label, exc)
        await self.close(CLOSE_NORMAL, "call ended")

    async def _end_call(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            await asyncio.gather(self._watch, return_exceptions=True)
        if self.wire is not None:
            self.wire.close()
        if self.output is not None:
            self.output.far_end_gone()
        try:
            if self.session is not None:
                await self.calls.close(self.session.ctx.call_id, drain=True, timeout=self.end_timeout_s)
        finally:
            if self.slot is not None:
                self.slot.release()
        if self.session is not None and self.output is not None and self.input is not None:
            out, dropped = self.output.stats, self.input.dropped_frames  # the load benchmark reads this line
            log.info("%s ended: %d frames out, %d late, worst %.0f ms late; %d input frames dropped",
                     self.label, out.frames_sent, out.late_frames, out.max_late_ms, dropped)  # fmt: skip

    async def close(self, code: int, reason: str) -> None:
        """Close the socket once (later calls do nothing); the wire stops writing at once."""
        if self.close_code is not None:
            return
        self.close_code = code
        if self.wire is not None:
            self.wire.close()
        if WebSocketState.DISCONNECTED in (self.socket.application_state, self.socket.client_state):
            return
        try:
            await self.socket.close(code, reason)
        except Exception as exc:  # the peer is already gone
            log.debug("%s: close failed: %s", self.label, exc)

    async def garbage(self, kind: str, detail: str) -> None:
        """Ignore a bad message: count it, log it (first of a kind loudly), tell ``on_garbage``."""
        self.ignored[kind] += 1
        first = self.ignored[kind] == 1
        log.log(logging.WARNING if first else logging.DEBUG, "%s: ignored %s", self.label, detail)
        await self.on_garbage(kind, detail, first)
