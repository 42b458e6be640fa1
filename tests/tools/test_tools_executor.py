"""ToolExecutor in a running graph: ToolCall in, ToolResult out; idempotent ids; barge-in cancels."""

from __future__ import annotations

import asyncio
from typing import Any

from voiceflow.frames import ToolCall, ToolResult
from voiceflow.graphs import Collector, Graph, GraphRun, VirtualClock
from voiceflow.processors.tools import CallCenterTools, CallState, ToolCallTracker, ToolExecutor, ToolRegistry


async def test_executor_runs_calls_and_reports_errors_as_results(tools: CallCenterTools) -> None:
    tracker = ToolCallTracker(tools.registry)
    clock = VirtualClock()
    sink = Collector(name="sink")
    graph = Graph("tools", inputs=[ToolCall]).chain(ToolExecutor(tracker, name="exec"), sink)
    async with GraphRun(graph, clock=clock) as run:
        order = {"tool": "check_order_status"}
        await run.push(run.make(ToolCall, call_id="a", arguments={"order_id": "1002"}, **order))
        await run.push(run.make(ToolCall, call_id="a", arguments={"order_id": "1002"}, **order))
        await run.push(run.make(ToolCall, call_id="b", arguments={"order_id": "42"}, **order))
        await run.push(run.make(ToolCall, call_id="c", tool="no_such_tool", arguments={}))
        await run.push(run.make(ToolCall, call_id="d", tool="collect_feedback", arguments={"rating": 9}))
    results = [f for f in sink.of(ToolResult) if isinstance(f, ToolResult)]
    assert [(r.call_id, r.status) for r in results] == [
        ("a", "done"),
        ("a", "done"),
        ("b", "error"),
        ("c", "error"),
        ("d", "error"),
    ]
    assert results[0].result == results[1].result and results[0].result["status"] == "in transit"
    assert tracker.executed == 4  # the repeated id "a" did not run again
    assert results[2].result["code"] == "order_not_found"
    assert (results[2].error or "").startswith("I couldn't find order")
    assert results[4].result["code"] == "out_of_range"
    assert not run.errors  # bad calls are results, not failures


class Gate:
    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.started = asyncio.Event()

    async def hold(self, tag: str) -> dict[str, Any]:
        """Waits until released.

        Args:
            tag: A label.
        """
        self.started.set()
        await self.release.wait()
        return {"tag": tag}


async def test_interrupt_cancels_the_running_call_of_the_old_generation() -> None:
    gate = Gate()
    tracker = ToolCallTracker(ToolRegistry([gate.hold]))
    executor = ToolExecutor(tracker, name="exec", feedback_upstream=True)
    clock = VirtualClock()
    sink = Collector(name="sink")
    feedback: list[ToolResult] = []
    graph = Graph("tools", inputs=[ToolCall]).chain(executor, sink)
    async with GraphRun(
        graph,
        clock=clock,
        on_upstream=lambda _p, f: feedback.extend([f] if isinstance(f, ToolResult) else []),
    ) as run:
        await run.push(run.make(ToolCall, call_id="old", tool="hold", arguments={"tag": "x"}))
        await clock.advance(0.01)
        assert gate.started.is_set() and tracker.state("old") is CallState.RUNNING
        await executor.interrupt()
        await clock.advance(0.01)
        assert tracker.state("old") is CallState.CANCELLED
        gate.release.set()
        await run.push(run.make(ToolCall, call_id="new", tool="hold", arguments={"tag": "y"}))
        # the cancelled id presented again stays cancelled
        await run.push(run.make(ToolCall, call_id="old", tool="hold", arguments={"tag": "x"}))
    results = [(f.call_id, f.status) for f in sink.of(ToolResult) if isinstance(f, ToolResult)]
    assert results == [("new", "done"), ("old", "cancelled")]
    assert [(f.call_id, f.status) for f in feedback] == results  # also fed back upstream
    assert not tracker.unfinished()
