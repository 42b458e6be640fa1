"""What every failover chain shares: its engines in order, a breaker per engine, one start and close.

A chain is started by every call's processor (engines are shared by calls), so ``start`` adopts
the clock and starts the engines only once; an engine that fails to start opens its breaker,
except the last one when ``last_must_start`` (the offline engine: without it the chain is useless).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Generic, TypeVar

from voiceflow.core.clock import Clock, MonotonicClock
from voiceflow.services.breaker import CircuitBreaker
from voiceflow.services.lifecycle import Service

log = logging.getLogger("voiceflow.failover")

E = TypeVar("E", bound=Service)


class Chain(Generic[E]):
    def __init__(
        self,
        kind: str,
        engines: Sequence[E],
        *,
        failure_threshold: int = 1,
        cooldown: float = 30.0,
        clock: Clock | None = None,
        last_must_start: bool = False,
    ) -> None:
        if not engines:
            raise ValueError(f"a {kind} failover chain needs at least one engine")
        self.engines = list(engines)
        self.clock: Clock = clock or MonotonicClock()
        self.last_must_start = last_must_start
        self.breakers = [
            CircuitBreaker(
                failure_threshold=failure_threshold,
                cooldown=cooldown,
                clock=self.clock,
                name=f"{kind}:{e.name}",
            )
            for e in self.engines
        ]
        self._started = False

    async def start(self, clock: Clock) -> None:
        if self._started:
            return
        self._started = True
        self.clock = clock
        for breaker in self.breakers:
            breaker.clock = clock
        for engine, breaker in zip(self.engines, self.breakers, strict=True):
            try:
                await engine.start(clock)
            except Exception as exc:
                if self.last_must_start and engine is self.engines[-1]:
                    raise
                breaker.record_failure(f"failed to start: {exc}")

    async def aclose(self) -> None:
        self._started = False
        for engine in self.engines:
            try:
                await engine.aclose()
            except Exception:
                log.warning("closing %s failed", engine.name, exc_info=True)
