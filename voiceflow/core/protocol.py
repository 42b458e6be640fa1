"""The narrow protocol between a processor and the run that hosts it.

A processor never sees ``GraphRun``: it asks its run only for what is listed in
``RunContext``. The runner drives a processor only through ``attach``,
``start_worker``, ``stop_worker``, ``busy`` and the queue (see
``voiceflow.core.processor``). Keeping both sides this small is what lets the
runner change (process pools, per-call workers) without touching processors.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, Protocol, TypeVar

from voiceflow.core.clock import Clock
from voiceflow.core.observers import Observer
from voiceflow.frames.base import Frame
from voiceflow.frames.control import Error

F = TypeVar("F", bound=Frame)
#: a processor, seen from the protocol (kept as ``Any`` so this module does not import the processor)
Node = Any


class Generation:
    """The run's turn counter; an Interrupt moves it forward."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0


class RunContext(Protocol):
    """What a processor may ask of its run."""

    clock: Clock
    generation: Generation
    #: bot output dropped at push time because its generation was stale
    dropped_stale: int
    #: frames a router could not place
    unrouted: int

    #: whether any observer watches pushes (a plain field: read on the hot path before ``notify``)
    observed: bool
    #: frame types no observer wants (learnt by ``notify``): pushes of these skip the call
    unwatched: set[type]

    @property
    def done(self) -> bool:
        """The run has finished (its tasks are gone)."""
        ...

    def notify(self, src: Node, frame: Frame, upstream: bool) -> None:
        """Tell observers about a push (never blocks)."""

    def sink_received(self, sink: Node, frame: Frame) -> None:
        """A frame left the graph downstream of ``sink``."""

    def root_received(self, root: Node, frame: Frame) -> None:
        """A frame left the graph upstream of ``root`` (errors, feedback)."""

    def bump_generation(self) -> int:
        """Start a new turn generation; returns it."""
        ...

    def spawn(self, coro: Coroutine[Any, Any, Any], *, name: str | None = None) -> asyncio.Task[Any]:
        """Start a task the run owns (cancelled at teardown)."""
        ...

    def request_cancel(self, reason: str) -> None:
        """Stop the run now."""

    def fail(self, error: Error) -> None:
        """End the run with a fatal error."""

    def make(self, ftype: type[F], **fields: Any) -> F:
        """Create a frame stamped with the run's clock and generation (for callbacks outside a handler)."""
        ...

    def add_observer(self, observer: Observer, *, queue_size: int = 4096) -> None:
        """Watch every push of the run from a bounded queue of the observer's own."""
