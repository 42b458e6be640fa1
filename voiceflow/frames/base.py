"""The frame base: identity, timing, generation and origin that every frame carries.

Frames are small frozen slotted dataclasses. The base fields are keyword-only
and filled from the running graph's context (clock and turn generation), so a
processor writes ``Transcript(text="hi", final=True)`` and gets a fully stamped
frame.
"""

from __future__ import annotations

import contextvars
import dataclasses
import enum
import itertools
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, TypeVar


class Origin(enum.Enum):
    """Who a frame speaks for; decides what an interruption may drop."""

    USER = "user"  # caller input: never dropped
    BOT = "bot"  # agent output: dropped when its generation is stale
    SYSTEM = "system"  # lifecycle, control, metrics


class Lane(enum.Enum):
    """How a frame travels along an edge."""

    ORDERED = "ordered"  # content and the control that describes it, FIFO per edge
    URGENT = "urgent"  # out-of-band signals that overtake queued frames; carry no content


class _ClockLike(Protocol):
    def now(self) -> float: ...


class _Generation(Protocol):
    value: int


class FrameContext:
    """What frame constructors read: the run's clock and its live generation counter."""

    __slots__ = ("clock", "generation")

    def __init__(self, clock: _ClockLike, generation: _Generation) -> None:
        self.clock = clock
        self.generation = generation


class _FallbackGeneration:
    value = 0


class _FallbackClock:
    @staticmethod
    def now() -> float:
        return time.monotonic()


_fallback = FrameContext(_FallbackClock(), _FallbackGeneration())

#: Set by the graph run around everything it executes.
current_context: contextvars.ContextVar[FrameContext] = contextvars.ContextVar(
    "voiceflow_frame_context", default=_fallback
)
#: Set by a processor worker while it handles a bot-output frame, so that what it
#: derives stays in that frame's turn (and is dropped with it).
handling_generation: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "voiceflow_handling_generation", default=None
)

_ids = itertools.count(1)


def _next_id() -> int:
    return next(_ids)


def _now() -> float:
    return current_context.get().clock.now()


def _generation() -> int:
    gen = handling_generation.get()
    if gen is not None:
        return gen
    return current_context.get().generation.value


@dataclass(frozen=True, slots=True, kw_only=True)
class Frame:
    """Base of every frame. Not pushed on its own; use a concrete family."""

    origin: ClassVar[Origin] = Origin.SYSTEM
    lane: ClassVar[Lane] = Lane.ORDERED

    id: int = field(default_factory=_next_id, compare=False)
    ts: float = field(default_factory=_now, compare=False)
    generation: int = field(default_factory=_generation, compare=False)

    @property
    def droppable(self) -> bool:
        """True for bot output, which an interruption discards when stale."""
        return self.origin is Origin.BOT

    @property
    def type_name(self) -> str:
        """The frame's type name, for logs and counts (a field of a subclass can never shadow it)."""
        return type(self).__name__


F = TypeVar("F", bound=Frame)


def evolve(frame: F, **changes: Any) -> F:
    """Copy a frame with changes and a fresh id and timestamp (frames are never mutated)."""
    changes.setdefault("id", _next_id())
    changes.setdefault("ts", _now())
    return dataclasses.replace(frame, **changes)
