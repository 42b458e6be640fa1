"""The circuit breaker lets exactly one trial through while half-open, whoever asks at once."""

from __future__ import annotations

import asyncio

from voiceflow.graphs import VirtualClock
from voiceflow.services.breaker import BreakerState, CircuitBreaker


async def _call(breaker: CircuitBreaker, gate: asyncio.Event, outcome: list[str], ok: bool) -> None:
    if not breaker.allow():
        outcome.append("refused")
        return
    outcome.append("trial")
    await gate.wait()  # the trial takes a while: everyone else arrives meanwhile
    if ok:
        breaker.record_success()
    else:
        breaker.record_failure("still down")


async def _open(clock: VirtualClock) -> CircuitBreaker:
    breaker = CircuitBreaker(failure_threshold=2, cooldown=30.0, clock=clock)
    breaker.record_failure("boom")
    assert breaker.state is BreakerState.CLOSED
    breaker.record_failure("boom")
    assert breaker.state is BreakerState.OPEN and not breaker.allow()
    await clock.advance(30.0)
    assert breaker.state is BreakerState.HALF_OPEN
    return breaker


async def test_half_open_admits_exactly_one_of_many_concurrent_callers() -> None:
    clock = VirtualClock()
    breaker = await _open(clock)
    gate, outcome = asyncio.Event(), []
    tasks = [asyncio.create_task(_call(breaker, gate, outcome, ok=True)) for _ in range(20)]
    await asyncio.sleep(0)
    assert outcome.count("trial") == 1 and outcome.count("refused") == 19
    gate.set()
    await asyncio.gather(*tasks)
    assert breaker.state is BreakerState.CLOSED and breaker.allow() and breaker.allow()


async def test_failed_trial_reopens_for_a_full_cooldown() -> None:
    clock = VirtualClock()
    breaker = await _open(clock)
    gate, outcome = asyncio.Event(), []
    tasks = [asyncio.create_task(_call(breaker, gate, outcome, ok=False)) for _ in range(5)]
    await asyncio.sleep(0)
    gate.set()
    await asyncio.gather(*tasks)
    assert outcome.count("trial") == 1
    assert breaker.state is BreakerState.OPEN and not breaker.allow()
    await clock.advance(29.9)
    assert not breaker.allow()
    await clock.advance(0.1)
    assert breaker.allow() and not breaker.allow()  # one new trial, still only one


async def test_a_cancelled_trial_frees_the_slot_for_the_next_caller() -> None:
    clock = VirtualClock()
    breaker = await _open(clock)
    assert breaker.allow()
    assert not breaker.allow()
    breaker.release()
    assert breaker.allow()
