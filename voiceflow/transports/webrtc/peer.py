"""One browser (or aiortc) peer: its RTCPeerConnection, outbound track, inbound track and data channel.

The peer is the wire; ``WebRTCInput`` and ``WebRTCOutput`` read and write it
inside the call's graph, and ``WebRTCTransport`` decides when it ends. Handlers
registered on aiortc's emitters are plain functions (pyee would run coroutine
handlers as tasks nobody owns). ``gone`` is set once the peer has left for any
reason (hang-up message, data channel closed, connection failed or closed,
local close); ``close`` is idempotent and frees the connection.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from typing import Any

from aiortc import RTCConfiguration, RTCDataChannel, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from voiceflow.core.clock import Clock, MonotonicClock
from voiceflow.guard.json_limits import loads_bounded
from voiceflow.transports.webrtc.events import CHANNEL_LABEL, Event
from voiceflow.transports.webrtc.track import OutboundAudioTrack

__all__ = ["WebRTCPeer"]

log = logging.getLogger("voiceflow.webrtc")

#: the largest message the page may send on the data channel
MAX_CHANNEL_MESSAGE = 4096


class WebRTCPeer:
    """Owns one RTCPeerConnection (no STUN/TURN: loopback and LAN peers only)."""

    def __init__(self, peer_id: str, *, clock: Clock | None = None, max_pending_events: int = 256) -> None:
        self.peer_id = peer_id
        self.clock: Clock = clock or MonotonicClock()
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.output_track = OutboundAudioTrack(clock=self.clock)
        self.remote_audio: MediaStreamTrack | None = None
        self.channel: RTCDataChannel | None = None
        self.gone = asyncio.Event()
        self.connected = asyncio.Event()
        #: set on every state change the transport watches (connected, gone)
        self.changed = asyncio.Event()
        self.leave_reason: str | None = None
        self.events_sent = 0
        self.events_dropped = 0
        self._remote_ready = asyncio.Event()
        self._pending: deque[str] = deque(maxlen=max_pending_events)
        self._close_task: asyncio.Task[None] | None = None
        self.pc.on("track", self._on_track)
        self.pc.on("datachannel", self._on_datachannel)
        self.pc.on("connectionstatechange", self._on_connection_state)

    # -- negotiation ------------------------------------------------------------------------------
    async def answer(self, offer: RTCSessionDescription) -> RTCSessionDescription:
        """Apply the peer's offer and return our answer (ICE candidates gathered, no trickle)."""
        await self.pc.setRemoteDescription(offer)
        self.pc.addTrack(self.output_track)
        answer = await self.pc.createAnswer()
        await self.pc.setLocalDescription(answer)
        local = self.pc.localDescription
        return RTCSessionDescription(sdp=local.sdp, type=local.type)

    # -- inbound ------------------------------------------------------------------------------------
    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio" and self.remote_audio is None:
            self.remote_audio = track
            self._remote_ready.set()

    async def wait_remote_audio(self) -> MediaStreamTrack | None:
        """The peer's microphone track, or None if the peer left without one."""
        if self.remote_audio is None:
            waiter = asyncio.ensure_future(self._remote_ready.wait())
            gone = asyncio.ensure_future(self.gone.wait())
            try:
                await asyncio.wait({waiter, gone}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiter.cancel()
                gone.cancel()
                await asyncio.gather(waiter, gone, return_exceptions=True)
        return self.remote_audio

    # -- the events channel -------------------------------------------------------------------------
    def _on_datachannel(self, channel: RTCDataChannel) -> None:
        if channel.label != CHANNEL_LABEL or self.channel is not None:
            return
        self.channel = channel
        channel.on("message", self._on_message)
        channel.on("close", lambda: self.leave("data channel closed"))
        if channel.readyState == "open":
            self._flush_pending()
        else:
            channel.on("open", self._flush_pending)

    def _on_message(self, message: str | bytes) -> None:
        if len(message) > MAX_CHANNEL_MESSAGE:
            log.warning("peer %s: data channel message of %d bytes ignored", self.peer_id, len(message))
            return
        try:
            data = loads_bounded(message, max_bytes=MAX_CHANNEL_MESSAGE)
        except ValueError:
            log.warning("peer %s: data channel message is not JSON; ignored", self.peer_id)
            return
        if isinstance(data, dict) and data.get("type") == "hangup":
            self.leave("hung up")

    def send_event(self, event: Event) -> None:
        """Send one JSON event to the page (held until the channel opens; dropped once the peer left)."""
        if self.gone.is_set():
            self.events_dropped += 1
            return
        text = json.dumps(event, separators=(",", ":"))
        channel = self.channel
        if channel is not None and channel.readyState == "open":
            self._send(channel, text)
            return
        if len(self._pending) == self._pending.maxlen:
            self.events_dropped += 1
        self._pending.append(text)

    @property
    def queued_events(self) -> list[Event]:
        """Events waiting for the data channel to open (oldest first)."""
        return [json.loads(text) for text in self._pending]

    def _flush_pending(self) -> None:
        channel = self.channel
        while channel is not None and channel.readyState == "open" and self._pending:
            self._send(channel, self._pending.popleft())

    def _send(self, channel: RTCDataChannel, text: str) -> None:
        try:
            channel.send(text)
            self.events_sent += 1
        except Exception as exc:  # a closing transport must not break the graph
            self.events_dropped += 1
            log.debug("peer %s: event not sent (%s)", self.peer_id, exc)

    # -- lifecycle --------------------------------------------------------------------------------------
    def _on_connection_state(self) -> None:
        state = self.pc.connectionState
        log.debug("peer %s: connection %s", self.peer_id, state)
        if state == "connected":
            self.connected.set()
            self.changed.set()
        elif state in ("failed", "closed"):
            self.leave(f"connection {state}")

    def leave(self, reason: str) -> None:
        """Mark the peer as gone (the transport then ends the call and closes the connection)."""
        if not self.gone.is_set():
            self.leave_reason = reason
            self.gone.set()
            self.changed.set()

    async def close(self) -> None:
        """Stop the tracks and close the connection; safe to call from anywhere, any number of times."""
        self.leave("closed locally")
        if self._close_task is None:
            self._close_task = asyncio.ensure_future(self._close())
        await asyncio.shield(self._close_task)

    async def _close(self) -> None:
        self._pending.clear()
        self.output_track.stop()
        if self.remote_audio is not None:
            self.remote_audio.stop()
        try:
            await self.pc.close()
        except Exception as exc:  # closing must always complete (aiortc can trip on a half-built peer)
            log.warning(
                "peer %s: closing the connection failed: %s: %s", self.peer_id, type(exc).__name__, exc
            )
        self.pc.remove_all_listeners()

    @property
    def closed(self) -> bool:
        return self._close_task is not None and self._close_task.done()

    def describe(self) -> dict[str, Any]:
        return {
            "peer_id": self.peer_id,
            "connection": self.pc.connectionState,
            "gone": self.gone.is_set(),
            "leave_reason": self.leave_reason,
            "events_sent": self.events_sent,
            "frames_sent": self.output_track.frames_sent,
        }
