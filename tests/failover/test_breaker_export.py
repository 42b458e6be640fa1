"""Breaker states as the metrics gauge exports them, every transition reported, on the virtual clock."""

from __future__ import annotations

import asyncio

from voiceflow.graphs import VirtualClock
from voiceflow.services.breaker import BreakerState, CircuitBreaker, breaker_states, get_breaker


async def test_transitions_are_reported_and_exported_with_one_trial_among_concurrent_callers() -> None:
    clock = VirtualClock()
    seen: list[tuple[str, BreakerState]] = []
    breaker = CircuitBreaker(
        failure_threshold=2,
        cooldown=30.0,
        clock=clock,
        name="tts:test-voice",
        on_change=lambda n, s: seen.append((n, s)),
    )
    assert get_breaker("tts:test-voice") is breaker and breaker_states()["tts:test-voice"] == 0
    breaker.record_failure("timeout")
    assert breaker.state is BreakerState.CLOSED  # one failure is not enough
    breaker.record_failure("timeout")
    assert breaker_states()["tts:test-voice"] == 2
    await clock.advance(29.9)
    assert breaker.state is BreakerState.OPEN
    await clock.advance(0.1)
    assert breaker_states()["tts:test-voice"] == 1

    async def caller() -> bool:
        await asyncio.sleep(0)
        return breaker.allow()

    allowed = await asyncio.gather(*(caller() for _ in range(8)))
    assert allowed.count(True) == 1  # exactly one trial, however many callers at once
    breaker.record_success()
    assert breaker_states()["tts:test-voice"] == 0
    assert [s for _, s in seen] == [BreakerState.OPEN, BreakerState.HALF_OPEN, BreakerState.CLOSED]
