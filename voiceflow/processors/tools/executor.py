"""ToolExecutor: runs ``ToolCall`` frames through the call tracker and emits ``ToolResult``."""

from __future__ import annotations

from typing import Any

from voiceflow.core.processor import Processor, on
from voiceflow.frames import Interrupt, ToolCall, ToolResult
from voiceflow.processors.tools.calls import CallState, ToolCallTracker
from voiceflow.processors.tools.outcome import ToolOutcome


def result_frame(call_id: str, tool: str, outcome: ToolOutcome, state: CallState | None = None) -> ToolResult:
    """The ``ToolResult`` frame for an outcome (errors carry the spoken message and the error dict)."""
    if outcome.ok:
        return ToolResult(call_id=call_id, tool=tool, result=outcome.result, status="done")
    status = "cancelled" if outcome.cancelled or state is CallState.CANCELLED else "error"
    return ToolResult(call_id=call_id, tool=tool, result=outcome.error, error=outcome.message, status=status)


class ToolExecutor(Processor):
    """Consumes ``ToolCall``, pushes ``ToolResult`` downstream (and upstream with ``feedback_upstream``).

    Calls go through a ``ToolCallTracker``, so a repeated call id returns the first
    result without running the tool again. On Interrupt, calls of the old generation
    are recorded cancelled (their results would be stale and are not pushed).
    """

    produces = (ToolResult,)

    def __init__(
        self, tracker: ToolCallTracker, *, feedback_upstream: bool = False, name: str | None = None
    ) -> None:
        super().__init__(name=name)
        self.tracker = tracker
        self.feedback_upstream = feedback_upstream

    @on(ToolCall)
    async def call(self, frame: ToolCall) -> None:
        arguments: Any = frame.arguments
        outcome = await self.tracker.execute(
            frame.call_id, frame.tool, arguments, generation=frame.generation
        )
        result = result_frame(frame.call_id, frame.tool, outcome, self.tracker.state(frame.call_id))
        await self.push(result)
        if self.feedback_upstream:
            await self.push_up(result)

    async def on_interrupt(self, frame: Interrupt) -> None:
        self.tracker.cancel_older_than(frame.generation)
