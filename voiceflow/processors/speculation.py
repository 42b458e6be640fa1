"""Speculative replies: the answer is prepared while the end of the caller's turn is still undecided.

At a pause whose words could end the request, the ``Endpointer`` ends the turn
*provisionally* (``UserStoppedSpeaking(provisional=True)``) and calls ``begin``: NLU, the
dialogue and the first TTS clause run at once, while the turn model and the silence window
decide. ``confirm`` (the window ran out) releases what was prepared; ``discard`` (the caller
went on) throws it away, and the Endpointer's interrupt cancels the work in flight.

Nothing a caller could notice may happen for a turn that might still be discarded:

* ``ReplyGate``, just before the output transport, holds the agent's output until the turn
  is confirmed (the caller hears nothing of a discarded reply);
* the dialogue and the LLM agent run read-only tools at once but await the turn's settling
  (below) for tools with side effects (bookings, cancellations, transfer, feedback, hang-up);
* the memory recorder keeps what it would record and writes it only once confirmed.

Each of them takes a ``ticket()`` when the turn's frames reach it: ``None`` when no
speculation is pending (act now), else a future that resolves True (confirmed) or False
(discarded). One ``Speculation`` per call, shared by those processors.

A confirmed turn can still be *continued*: the caller goes on within the Endpointer's
continuation window and both parts become one turn. What is said can be cleared from the
line, but a database write cannot be taken back, so tools with side effects wait on
``effects_ticket()`` instead: it resolves True only once the turn is *settled* (its
continuation window passed, ``settle(True)``) and False when the turn was discarded or
continued. A turn ended without speculation gets one too (``ended()``).

The caller may also resume just as the reply starts (a pause as long as the window). The
VAD flags the first voiced window at once (``VoicePaused(resumed=True)``) but confirms an
onset only ~0.2 s later; in between the Endpointer ``hold``s the output (the gate's ticket
is pending again): a confirmed onset continues the turn and drops the reply, anything else
``release``s it.
"""

from __future__ import annotations

import asyncio

from voiceflow.core.processor import Processor, on
from voiceflow.frames.base import Frame, Origin

__all__ = ["ReplyGate", "Speculation", "committed"]


class Speculation:
    """One call's speculative turn state (see module doc)."""

    def __init__(self) -> None:
        self._outcome: asyncio.Future[bool] | None = None
        #: the current turn's side effects: True once it can no longer be continued
        self._settled: asyncio.Future[bool] | None = None
        #: speculative ends of turn, and of those confirmed / discarded
        self.begun = self.confirmed = self.discarded = 0
        #: replies held because voice came back just after their turn ended (``hold``)
        self.held = 0

    @property
    def pending(self) -> bool:
        return self._outcome is not None and not self._outcome.done()

    def begin(self) -> None:
        """A provisional end of turn went out: what follows is speculative until resolved."""
        self._resolve(False)  # a stale one cannot stay open
        loop = asyncio.get_running_loop()
        self._outcome = loop.create_future()
        self._settled = loop.create_future()
        self.begun += 1

    def ended(self) -> None:
        """A turn ended without speculation: its side effects still wait for ``settle``."""
        self._resolve(False)
        self._settled = asyncio.get_running_loop().create_future()

    def confirm(self) -> None:
        """The turn is over: its reply may play (its side effects wait for ``settle``)."""
        if _set(self._outcome, True):
            self.confirmed += 1

    def discard(self) -> None:
        """The caller went on: neither the reply nor the side effects of the turn happen."""
        if self._resolve(False):
            self.discarded += 1

    def hold(self) -> None:
        """Voice may be back just after the end of turn: the output waits until an onset is decided."""
        if not self.pending:
            self._outcome = asyncio.get_running_loop().create_future()
            self.held += 1

    def release(self) -> None:
        """No onset came of it (or the turn is over for good): what was held plays."""
        _set(self._outcome, True)

    def settle(self, value: bool) -> None:
        """The confirmed turn can no longer be continued (True) or was continued (False)."""
        _set(self._settled, value)

    def ticket(self) -> asyncio.Future[bool] | None:
        """What the current frames' fate hangs on: None (no speculation pending) or its outcome."""
        return self._outcome if self.pending else None

    def effects_ticket(self) -> asyncio.Future[bool] | None:
        """What side effects of the current turn wait on: None (act now) or its settling."""
        settled = self._settled
        return settled if settled is not None and not settled.done() else None

    def _resolve(self, value: bool) -> bool:
        """Resolve the pending outcome (and the side effects with it); False if none was pending."""
        _set(self._settled, value)
        return _set(self._outcome, value)


def _set(future: asyncio.Future[bool] | None, value: bool) -> bool:
    if future is None or future.done():
        return False
    future.set_result(value)
    return True


async def committed(ticket: asyncio.Future[bool] | None) -> bool:
    """True once the turn behind ``ticket`` is confirmed (at once without one), False if discarded."""
    return True if ticket is None else await asyncio.shield(ticket)


class ReplyGate(Processor):
    """Holds the agent's output while a speculative turn is undecided (place it before the output).

    Frames go out in order: while a ticket is pending the worker waits on it, and what comes
    behind waits in the queue. A discarded turn's frames are dropped (the Endpointer's interrupt
    also purges the queue of the old generation's output).
    """

    def __init__(self, speculation: Speculation, *, name: str | None = None) -> None:
        super().__init__(name=name)
        self.speculation = speculation
        #: frames dropped because their turn was discarded
        self.dropped = 0

    @property
    def speculations(self) -> int:
        """Speculative ends of turn so far (the call's, for benchmarks)."""
        return self.speculation.begun

    @property
    def discarded(self) -> int:
        """Of those, how many the caller went on after (reply prepared and thrown away)."""
        return self.speculation.discarded

    @property
    def held(self) -> int:
        """Replies held because voice came back just after their turn ended."""
        return self.speculation.held

    @on(Frame)
    async def any(self, frame: Frame) -> None:
        if frame.origin is Origin.BOT and not await committed(self.speculation.ticket()):
            self.dropped += 1
            return
        await self.push(frame)
