"""ToolCallTracker: requested → running → done | cancelled | error, idempotent by call id, bounded."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from voiceflow.processors.tools import CallState, ToolCallTracker, ToolError, ToolRegistry


class Gate:
    """Tools whose progress the test controls (a real registry around them)."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.started = asyncio.Event()
        self.runs: list[str] = []
        self.cleaned = 0

    def registry(self) -> ToolRegistry:
        async def slow(tag: str) -> dict[str, Any]:
            """Waits for the test.

            Args:
                tag: A label.
            """
            self.runs.append(tag)
            self.started.set()
            try:
                await self.release.wait()
            finally:
                self.cleaned += 1
            return {"tag": tag}

        async def quick(tag: str) -> dict[str, Any]:
            """Returns at once.

            Args:
                tag: A label.
            """
            self.runs.append(tag)
            if tag == "bad":
                raise ToolError("bad_tag", "That tag is bad.")
            return {"tag": tag}

        return ToolRegistry([slow, quick])


async def test_done_and_idempotent() -> None:
    gate = Gate()
    tracker = ToolCallTracker(gate.registry())
    first = await tracker.execute("c1", "quick", {"tag": "a"})
    again = await tracker.execute("c1", "quick", {"tag": "DIFFERENT"})
    assert first.ok and again is first
    assert gate.runs == ["a"] and tracker.executed == 1
    assert tracker.state("c1") is CallState.DONE


async def test_error_state_is_final_too() -> None:
    gate = Gate()
    tracker = ToolCallTracker(gate.registry())
    out = await tracker.execute("c1", "quick", {"tag": "bad"})
    assert out.code == "bad_tag" and tracker.state("c1") is CallState.ERROR
    assert (await tracker.execute("c1", "quick", {"tag": "bad"})) is out and gate.runs == ["bad"]
    bad_json = await tracker.execute("c2", "quick", "{not json")
    assert bad_json.code == "invalid_json" and tracker.state("c2") is CallState.ERROR


async def test_same_id_while_running_waits_for_the_one_run() -> None:
    gate = Gate()
    tracker = ToolCallTracker(gate.registry())
    a = asyncio.create_task(tracker.execute("c1", "slow", {"tag": "x"}))
    await gate.started.wait()
    assert tracker.state("c1") is CallState.RUNNING
    b = asyncio.create_task(tracker.execute("c1", "slow", {"tag": "x"}))
    await asyncio.sleep(0)
    gate.release.set()
    out_a, out_b = await asyncio.gather(a, b)
    assert out_a is out_b and out_a.ok and gate.runs == ["x"]


async def test_cancel_requested_call_never_runs() -> None:
    gate = Gate()
    tracker = ToolCallTracker(gate.registry())
    tracker.request("c1", "quick", {"tag": "a"})
    assert tracker.state("c1") is CallState.REQUESTED
    assert tracker.cancel("c1") is True
    out = await tracker.execute("c1", "quick", {"tag": "a"})
    assert out.cancelled and tracker.state("c1") is CallState.CANCELLED
    assert gate.runs == [] and tracker.cancel("c1") is False


async def test_cancel_running_call_ends_cancelled_and_stays_cancelled() -> None:
    gate = Gate()
    tracker = ToolCallTracker(gate.registry())
    task = asyncio.create_task(tracker.execute("c1", "slow", {"tag": "x"}))
    await gate.started.wait()
    waiter = asyncio.create_task(tracker.execute("c1", "slow", {"tag": "x"}))
    await asyncio.sleep(0)
    assert tracker.cancel("c1") is True
    out = await task
    assert out.cancelled and (await waiter).cancelled
    assert tracker.state("c1") is CallState.CANCELLED and gate.cleaned == 1
    gate.release.set()
    assert (await tracker.execute("c1", "slow", {"tag": "x"})).cancelled
    assert gate.runs == ["x"]  # never re-run


async def test_cancelling_the_awaiting_task_records_the_call_cancelled() -> None:
    gate = Gate()
    tracker = ToolCallTracker(gate.registry())
    task = asyncio.create_task(tracker.execute("c1", "slow", {"tag": "x"}, generation=3))
    await gate.started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert tracker.state("c1") is CallState.CANCELLED and gate.cleaned == 1
    assert not tracker.unfinished()


async def test_cancel_older_than_a_generation() -> None:
    gate = Gate()
    tracker = ToolCallTracker(gate.registry())
    old = asyncio.create_task(tracker.execute("old", "slow", {"tag": "o"}, generation=1))
    await gate.started.wait()
    tracker.request("new", "quick", {"tag": "n"}, generation=2)
    assert tracker.cancel_older_than(2) == ["old"]
    assert (await old).cancelled
    assert tracker.state("new") is CallState.REQUESTED
    assert (await tracker.execute("new", "quick", {"tag": "n"}, generation=2)).ok


async def test_finished_calls_are_bounded_unfinished_are_kept() -> None:
    gate = Gate()
    tracker = ToolCallTracker(gate.registry(), max_finished=5)
    pending = tracker.request("pending", "quick", {"tag": "p"})
    for i in range(20):
        await tracker.execute(f"c{i}", "quick", {"tag": str(i)})
    assert len(tracker) == 6
    assert tracker.get("pending") is pending
    assert [tracker.state(f"c{i}") for i in (14, 15, 19)] == [None, CallState.DONE, CallState.DONE]
