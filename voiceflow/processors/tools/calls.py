"""Tool calls as a small state machine keyed by call id: requested → running → done | cancelled | error.

Why: an LLM (or a retried frame) may present the same call id twice, and an
interruption must leave every call in a final state, never "stuck running".

- ``execute`` is idempotent: a finished call returns its first outcome without
  running again; a running call is awaited, not duplicated; a cancelled call stays
  cancelled.
- ``cancel`` / ``cancel_older_than`` cancel requested and running calls; whoever awaits
  them gets a ``cancelled`` outcome. A database write already handed to the DB thread
  finishes or rolls back as a whole (never half-applied); the call is still recorded
  cancelled because its result was never delivered to the conversation.
- Memory is bounded: beyond ``max_finished`` finished calls the oldest are forgotten
  (a forgotten id presented again would run again). Unfinished calls are never evicted.
"""

from __future__ import annotations

import asyncio
import enum
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from voiceflow.processors.speculation import committed
from voiceflow.processors.tools.outcome import ToolOutcome
from voiceflow.processors.tools.registry import ToolRegistry

CANCELLED_MESSAGE = "That request was cancelled."


class CallState(enum.Enum):
    REQUESTED = "requested"
    RUNNING = "running"
    DONE = "done"
    CANCELLED = "cancelled"
    ERROR = "error"

    @property
    def finished(self) -> bool:
        return self in (CallState.DONE, CallState.CANCELLED, CallState.ERROR)


@dataclass
class TrackedCall:
    call_id: str
    tool: str
    arguments: dict[str, Any] | str | None
    generation: int = 0
    state: CallState = CallState.REQUESTED
    outcome: ToolOutcome | None = None
    _task: asyncio.Task[ToolOutcome] | None = field(default=None, repr=False)
    _waiters: list[asyncio.Future[ToolOutcome]] = field(default_factory=list, repr=False)


def cancelled_outcome(call_id: str) -> ToolOutcome:
    return ToolOutcome.failure("cancelled", CANCELLED_MESSAGE, call_id=call_id)


class ToolCallTracker:
    """Runs tool calls through a ``ToolRegistry`` and remembers each call's state by id."""

    def __init__(self, registry: ToolRegistry, *, max_finished: int = 256) -> None:
        self.registry = registry
        self.max_finished = max_finished
        self._calls: OrderedDict[str, TrackedCall] = OrderedDict()
        self.executed = 0  # how many times a tool actually ran (for tests and metrics)

    # -- queries ---------------------------------------------------------------------
    def get(self, call_id: str) -> TrackedCall | None:
        return self._calls.get(call_id)

    def state(self, call_id: str) -> CallState | None:
        call = self._calls.get(call_id)
        return None if call is None else call.state

    def unfinished(self) -> list[TrackedCall]:
        return [c for c in self._calls.values() if not c.state.finished]

    def __len__(self) -> int:
        return len(self._calls)

    # -- transitions -------------------------------------------------------------------
    def request(
        self, call_id: str, tool: str, arguments: dict[str, Any] | str | None = None, *, generation: int = 0
    ) -> TrackedCall:
        """Record a call as requested (idempotent: an existing id is returned unchanged)."""
        call = self._calls.get(call_id)
        if call is None:
            call = TrackedCall(call_id, tool, arguments, generation)
            self._calls[call_id] = call
        return call

    async def execute(
        self,
        call_id: str,
        tool: str,
        arguments: dict[str, Any] | str | None = None,
        *,
        generation: int = 0,
        ticket: asyncio.Future[bool] | None = None,
    ) -> ToolOutcome:
        """Run the call once and return its outcome; repeated ids return the first outcome.

        If the awaiting task itself is cancelled (e.g. its handler was interrupted), the
        call is cancelled and recorded so before the cancellation propagates. With a
        ``ticket`` (the turn is speculative, ``voiceflow.processors.speculation``) a tool with
        side effects first waits for the turn: a discarded turn's call ends cancelled, unrun.
        """
        call = self.request(call_id, tool, arguments, generation=generation)
        if ticket is not None and call.state is CallState.REQUESTED and not self._reads_only(call.tool):
            try:
                confirmed = await committed(ticket)
            except asyncio.CancelledError:
                self._finish(call, CallState.CANCELLED, cancelled_outcome(call_id))
                raise
            if not confirmed:
                self._finish(call, CallState.CANCELLED, cancelled_outcome(call_id))
        if call.state.finished:
            assert call.outcome is not None
            return call.outcome
        if call.state is CallState.RUNNING:
            waiter: asyncio.Future[ToolOutcome] = asyncio.get_running_loop().create_future()
            call._waiters.append(waiter)
            return await waiter
        call.state = CallState.RUNNING
        self.executed += 1
        task = asyncio.ensure_future(self.registry.call(call.tool, call.arguments))
        call._task = task
        try:
            outcome = await asyncio.shield(task)
        except asyncio.CancelledError:
            # the awaiting task was cancelled, or cancel() stopped the tool: either way the
            # call ends cancelled (its result is not delivered), and nothing is left running
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            self._finish(call, CallState.CANCELLED, cancelled_outcome(call_id))
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise
            assert call.outcome is not None
            return call.outcome
        self._finish(call, CallState.DONE if outcome.ok else CallState.ERROR, outcome)
        return outcome

    def _reads_only(self, tool: str) -> bool:
        return tool in self.registry and self.registry.tool(tool).reads_only

    def cancel(self, call_id: str) -> bool:
        """Cancel a requested or running call; False when it is unknown or already finished."""
        call = self._calls.get(call_id)
        if call is None or call.state.finished:
            return False
        if call.state is CallState.RUNNING and call._task is not None:
            return call._task.cancel()  # execute() records the final state once the task unwinds
        else:
            self._finish(call, CallState.CANCELLED, cancelled_outcome(call_id))
        return True

    def cancel_older_than(self, generation: int) -> list[str]:
        """Cancel every unfinished call of a generation before ``generation`` (barge-in)."""
        ids = [c.call_id for c in self.unfinished() if c.generation < generation]
        for call_id in ids:
            self.cancel(call_id)
        return ids

    def _finish(self, call: TrackedCall, state: CallState, outcome: ToolOutcome) -> None:
        if call.state.finished:
            return
        call.state = state
        call.outcome = outcome
        call._task = None
        for waiter in call._waiters:
            if not waiter.done():
                waiter.set_result(outcome)
        call._waiters.clear()
        self._calls.move_to_end(call.call_id)
        self._evict()

    def _evict(self) -> None:
        finished = [cid for cid, c in self._calls.items() if c.state.finished]
        for call_id in finished[: max(0, len(finished) - self.max_finished)]:
            del self._calls[call_id]
