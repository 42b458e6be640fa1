"""WebRTCTransport: answers offers and runs one graph per peer until the peer leaves.

``accept`` validates the offer, answers it with a fresh ``WebRTCPeer`` and
starts a watcher task. Nothing else is built yet: an answered offer costs a
peer connection, not a call. Only once ICE and DTLS connect does the watcher
open the call in the server's ``CallRegistry`` (``CallContext(transport="webrtc")``)
with ``WebRTCInput`` → pipeline → ``WebRTCOutput``; a pipeline that fails to
start then closes the peer (logged; the page sees the connection close).
The watcher ends the call when the peer leaves (hang-up message, data channel
closed, connection failed or closed), when it never connects, or when the
graph's run ends by itself; then the connection is closed and every reference
dropped. On server shutdown the registry cancels the runs, whose processors
close their peer in ``cleanup``, which wakes and retires the watchers.

With an ``Admission``, an offer takes a pending slot for its client address
(refused with ``PeerLimitError`` → 503 + Retry-After when the address, the
pending offers or the process are full); the slot becomes a live call's when
media flows and is released when the peer is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from aiortc import RTCSessionDescription

from voiceflow.calls import CallContext, CallRegistry, CallSession, PipelineFactory
from voiceflow.core.clock import MonotonicClock
from voiceflow.graphs import GraphRun
from voiceflow.guard.admission import Admission, Full, Slot
from voiceflow.transports.webrtc.input import WebRTCInput
from voiceflow.transports.webrtc.offer import OfferError, parse_offer, short_reason
from voiceflow.transports.webrtc.output import WebRTCOutput
from voiceflow.transports.webrtc.peer import WebRTCPeer

__all__ = ["Answer", "PeerLimitError", "PipelineStartError", "WebRTCTransport"]

log = logging.getLogger("voiceflow.webrtc")


class PeerLimitError(RuntimeError):
    """Too many live peers or offers (HTTP 503 with ``Retry-After: retry_after_s``)."""

    def __init__(self, message: str, retry_after_s: int = 5) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class PipelineStartError(RuntimeError):
    """Kept for callers that catch it; the pipeline is now built after the answer (see module doc)."""


@dataclass(frozen=True, slots=True)
class Answer:
    sdp: str
    type: str
    peer_id: str

    def as_json(self) -> dict[str, str]:
        return {"sdp": self.sdp, "type": self.type, "peer_id": self.peer_id}


class WebRTCTransport:
    def __init__(
        self,
        calls: CallRegistry,
        factory: PipelineFactory,
        *,
        max_peers: int = 64,
        connect_timeout: float = 15.0,
        drain_timeout: float = 5.0,
        admission: Admission | None = None,
    ) -> None:
        self.admission = admission
        self.calls = calls
        self.factory = factory
        self.max_peers = max_peers
        self.connect_timeout = connect_timeout
        self.drain_timeout = drain_timeout
        self.peers: dict[str, WebRTCPeer] = {}
        self.accepted = 0
        self.rejected = 0
        self._watchers: set[asyncio.Task[None]] = set()
        self._opening = 0  # offers being answered right now (count towards the limit)
        self.failed_to_start = 0

    @property
    def live(self) -> int:
        """Peers not yet fully released (connection open or watcher still running)."""
        return len(self.peers) + len(self._watchers)

    async def accept(self, body: object, address: str | None = None) -> Answer:
        """Answer the offer in ``body`` from ``address``; raises OfferError or PeerLimitError."""
        try:
            offer = parse_offer(body)
        except OfferError:
            self.rejected += 1
            raise
        if len(self.peers) + self._opening >= self.max_peers:
            self.rejected += 1
            live = len(self.peers) + self._opening
            raise PeerLimitError(f"{live} peers are live; the limit is {self.max_peers}")
        slot = None
        if self.admission is not None:
            try:
                slot = self.admission.acquire(address, pending=True)
            except Full as exc:
                self.rejected += 1
                raise PeerLimitError(str(exc), exc.retry_after_s) from None
        peer_id = uuid.uuid4().hex
        clock = MonotonicClock()
        peer = WebRTCPeer(peer_id, clock=clock)
        ctx = CallContext(call_id=f"webrtc-{peer_id}", transport="webrtc", metadata={"peer_id": peer_id})
        self._opening += 1
        try:
            answer = await self._negotiate(peer, offer)
        except BaseException:
            # a bad offer or a cancelled request: nothing of this peer may stay
            if slot is not None:
                slot.release()
            await asyncio.shield(peer.close())
            raise
        finally:
            self._opening -= 1
        self.peers[peer_id] = peer
        self.accepted += 1
        watcher = asyncio.create_task(self._watch(peer, ctx, clock, slot), name=f"webrtc:{peer_id[:8]}")
        self._watchers.add(watcher)
        watcher.add_done_callback(self._watchers.discard)
        return Answer(sdp=answer.sdp, type=answer.type, peer_id=peer_id)

    async def _negotiate(self, peer: WebRTCPeer, offer: RTCSessionDescription) -> RTCSessionDescription:
        try:
            return await peer.answer(offer)
        except Exception as exc:
            self.rejected += 1
            raise OfferError(f"the SDP offer was rejected: {short_reason(exc)}") from None

    async def _open_call(
        self, peer: WebRTCPeer, ctx: CallContext, clock: MonotonicClock
    ) -> CallSession | None:
        """The call, built now that media flows; None (peer closed, logged) when its pipeline fails."""
        try:
            return await self.calls.open(
                ctx, self.factory, WebRTCInput(peer), WebRTCOutput(peer), clock=clock
            )
        except Exception:
            self.failed_to_start += 1
            log.exception("peer %s: the pipeline failed to start", peer.peer_id)
            peer.leave("the call's pipeline failed to start")
            return None

    async def _watch(
        self, peer: WebRTCPeer, ctx: CallContext, clock: MonotonicClock, slot: Slot | None
    ) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.connect_timeout
        session: CallSession | None = None
        try:
            while not peer.gone.is_set():
                if session is None and peer.connected.is_set():
                    if slot is not None:
                        slot.connected()
                    session = await self._open_call(peer, ctx, clock)
                    continue
                if session is not None and session.run.done:
                    peer.leave("call ended")
                    break
                timeout = None if peer.connected.is_set() else deadline - loop.time()
                if timeout is not None and timeout <= 0:
                    peer.leave("never connected")
                    break
                peer.changed.clear()
                await _wait_any(peer.changed, session, timeout)
            log.info("peer %s left: %s", peer.peer_id, peer.leave_reason)
        finally:
            try:
                await self.calls.close(ctx.call_id, drain=True, timeout=self.drain_timeout)
            finally:
                await peer.close()
                self.peers.pop(peer.peer_id, None)
                if slot is not None:
                    slot.release()

    async def hangup(self, peer_id: str) -> bool:
        """End a peer's call from the server side; False when no such peer."""
        peer = self.peers.get(peer_id)
        if peer is None:
            return False
        peer.leave("hung up by the server")
        return True

    async def close_all(self) -> None:
        """Leave every peer and wait for the watchers to release them."""
        for peer in list(self.peers.values()):
            peer.leave("server shutting down")
        if self._watchers:
            await asyncio.gather(*list(self._watchers), return_exceptions=True)


async def _run_finished(run: GraphRun) -> None:
    with contextlib.suppress(Exception):
        await run.wait()


async def _wait_any(event: asyncio.Event, session: CallSession | None, timeout: float | None) -> None:
    """Wait for ``event`` or the call's run to finish, at most ``timeout`` seconds."""
    waiters: list[asyncio.Future[Any]] = [asyncio.ensure_future(event.wait())]
    if session is not None:
        waiters.append(asyncio.ensure_future(_run_finished(session.run)))
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)
