"""A circuit breaker: stop calling a failing provider for a cool-down, then try once.

Without it every utterance would wait a full timeout on a dead server (Rasa, an
LLM, a TTS voice). CLOSED → OPEN after ``failure_threshold`` consecutive failures;
after ``cooldown`` seconds HALF_OPEN, where exactly ONE caller is let through as
the trial (``allow`` answers False to every other caller until the trial reports
success, failure, or is released); success closes, failure re-opens. The breaker
reads time from an injected clock so tests move through the cool-down with
``VirtualClock.advance`` instead of sleeping.

Every breaker has a name (``"tts:elevenlabs"``, ``"stt:deepgram"``, ``"rasa"``) and is
listed in a process-wide registry while it lives: ``breaker_states()`` is what the
``voiceflow_breaker_state{breaker}`` gauge exports (0 closed, 1 half-open, 2 open), and
``on_change`` callbacks hear every transition as it happens.
"""

from __future__ import annotations

import enum
import itertools
import weakref
from collections.abc import Callable
from typing import Protocol

from voiceflow.core.clock import MonotonicClock


class TimeSource(Protocol):
    """The part of a run clock the breaker needs (``MonotonicClock``, ``VirtualClock``)."""

    def now(self) -> float: ...


class BreakerState(enum.Enum):
    CLOSED = "closed"  # calls go through
    OPEN = "open"  # calls are refused until the cool-down ends
    HALF_OPEN = "half_open"  # one trial call decides


#: the gauge value of each state (``voiceflow_breaker_state``)
STATE_VALUES = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}

_registry: weakref.WeakValueDictionary[str, CircuitBreaker] = weakref.WeakValueDictionary()
_anonymous = itertools.count(1)
#: every breaker alive in this process (names may repeat: one per call), for the metrics sampler
_LIVE: weakref.WeakSet[CircuitBreaker] = weakref.WeakSet()


def live_breakers() -> list[CircuitBreaker]:
    return list(_LIVE)


def breaker_states() -> dict[str, int]:
    """Every live breaker's state as the gauge exports it (0 closed, 1 half-open, 2 open)."""
    return {name: STATE_VALUES[b.state] for name, b in sorted(_registry.items())}


def get_breaker(name: str) -> CircuitBreaker | None:
    return _registry.get(name)


class CircuitBreaker:
    def __init__(
        self,
        *,
        failure_threshold: int = 2,
        cooldown: float = 30.0,
        clock: TimeSource | None = None,
        name: str | None = None,
        on_change: Callable[[str, BreakerState], None] | None = None,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        self.name = name or f"breaker-{next(_anonymous)}"
        #: called with (name, new state) on every transition
        self.on_change = on_change
        self._last_state = BreakerState.CLOSED
        _registry[self.name] = self
        _LIVE.add(self)
        self.failure_threshold = failure_threshold
        self.cooldown = cooldown
        self.clock: TimeSource = clock or MonotonicClock()
        self.failures = 0
        self.opened_at: float | None = None
        self.last_error = ""
        #: a half-open trial call is out (every other caller is refused meanwhile)
        self.trial_out = False

    @property
    def state(self) -> BreakerState:
        if self.opened_at is None:
            state = BreakerState.CLOSED
        elif self.clock.now() - self.opened_at >= self.cooldown:
            state = BreakerState.HALF_OPEN
        else:
            state = BreakerState.OPEN
        if state is not self._last_state:
            self._last_state = state
            if self.on_change is not None:
                self.on_change(self.name, state)
        return state

    @property
    def state_value(self) -> int:
        """0 closed, 1 half-open, 2 open (the gauge's encoding)."""
        return STATE_VALUES[self.state]

    def allow(self) -> bool:
        """May this caller call now? In HALF_OPEN only the first caller gets True (the trial)."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.OPEN or self.trial_out:
            return False
        self.trial_out = True
        return True

    def release(self) -> None:
        """The trial ended without a verdict (cancelled): let the next caller try."""
        self.trial_out = False

    def retry_in(self) -> float:
        """Seconds until the next trial call (0 when calls are allowed)."""
        if self.opened_at is None:
            return 0.0
        return max(0.0, self.opened_at + self.cooldown - self.clock.now())

    def record_success(self) -> None:
        self.failures = 0
        self.opened_at = None
        self.last_error = ""
        self.trial_out = False
        _ = self.state  # report the transition

    def record_failure(self, error: str) -> bool:
        """Count a failure; True when this failure opened (or re-opened) the circuit."""
        self.last_error = error
        self.failures += 1
        trial = self.trial_out
        self.trial_out = False
        if trial or self.state is BreakerState.HALF_OPEN or self.failures >= self.failure_threshold:
            self.opened_at = self.clock.now()
            _ = self.state  # report the transition
            return True
        return False
