"""The call: its identity (``CallContext``), the pipeline factory a transport feeds, the live-call registry.

A transport owns the wire (Twilio WebSocket, WebRTC peer, browser socket). For
each call it makes an input processor (decodes the wire into 16 kHz PCM16
``AudioRaw``, ``DTMF``; source of the graph) and an output processor (takes
``TTSAudio`` at any rate, resamples, paces and sends it; reports playout
upstream; sink of the graph). A ``PipelineFactory`` puts the agent between them
(a ``voiceflow.pipeline.Pipeline``'s ``build``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from voiceflow.core.clock import Clock
from voiceflow.graphs import Graph, GraphRun
from voiceflow.processors import Processor

log = logging.getLogger("voiceflow.calls")

#: sample rate every input transport delivers to the pipeline
PIPELINE_RATE = 16000


@dataclass
class CallContext:
    call_id: str
    transport: str  # "twilio" | "webrtc" | "websocket" | "local"
    caller: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


class PipelineFactory(Protocol):
    def __call__(self, ctx: CallContext, input: Processor, output: Processor) -> Graph: ...


@dataclass
class CallSession:
    ctx: CallContext
    run: GraphRun
    task: asyncio.Task[None] | None = None


class SessionHooks(Protocol):
    """Told when a call starts and ends (``voiceflow.sessions.CallSessions`` keeps the shared records).

    Hooks never raise into the call: a session store that cannot write goes on from memory.
    """

    async def call_opened(self, session: CallSession) -> None: ...

    async def call_closed(self, session: CallSession, outcome: str) -> None: ...


class CallRegistry:
    """Live calls by id; one graph run per call; a call's failure stays its own."""

    def __init__(self) -> None:
        self.calls: dict[str, CallSession] = {}
        #: the shared session records (None: this process only)
        self.sessions: SessionHooks | None = None
        self.finished = 0
        self.failed = 0
        #: called with each new session before its run starts (attach observers, metrics)
        self.on_open: list[Callable[[CallSession], None]] = []
        #: called with each session after its run ended
        self.on_close: list[Callable[[CallSession], None]] = []

    def __len__(self) -> int:
        return len(self.calls)

    async def open(
        self,
        ctx: CallContext,
        factory: PipelineFactory,
        input: Processor,
        output: Processor,
        *,
        clock: Clock | None = None,
    ) -> CallSession:
        if ctx.call_id in self.calls:
            raise ValueError(f"call {ctx.call_id!r} is already live")
        try:
            graph = factory(ctx, input, output)
        except BaseException:
            self.failed += 1  # a pipeline that cannot be built is a failed call too
            raise
        meta = {"call_id": ctx.call_id, "caller": ctx.caller, "transport": ctx.transport, **ctx.metadata}
        run = GraphRun(graph, clock=clock, metadata=meta)
        session = CallSession(ctx, run)
        for hook in self.on_open:
            hook(session)
        self.calls[ctx.call_id] = session
        try:
            await run.start()
        except BaseException:
            self.calls.pop(ctx.call_id, None)
            self.failed += 1
            for hook in self.on_close:  # what on_open set up (metrics, timers) is undone
                hook(session)
            raise
        if self.sessions is not None:
            await self.sessions.call_opened(session)
        return session

    async def close(self, call_id: str, *, drain: bool = True, timeout: float = 10.0) -> None:
        session = self.calls.pop(call_id, None)
        if session is None:
            return
        outcome = "ended"
        try:
            if drain and not session.run.done:
                await session.run.end(timeout=timeout)
            else:
                await session.run.cancel(reason="call closed")
            self.finished += 1
        except Exception:  # one call's failure must not reach another
            self.failed += 1
            outcome = "failed"
            log.exception("call %s ended with an error", call_id)
            await session.run.cancel(reason="close failed")
        for hook in self.on_close:
            hook(session)
        if self.sessions is not None:
            await self.sessions.call_closed(session, outcome)

    async def close_all(self) -> None:
        await asyncio.gather(*(self.close(cid, drain=False) for cid in list(self.calls)))
