"""Control frames: lifecycle, interruption, keypad input, errors and metrics.

``Interrupt`` and ``Cancel`` ride the urgent lane: they overtake queued frames and
carry no content. Everything else here stays in order with the data it describes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from voiceflow.frames.base import Frame, Lane, Origin


@dataclass(frozen=True, slots=True, kw_only=True)
class Start(Frame):
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class End(Frame):
    """Drain: everything pushed before it is processed, then the run completes."""

    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Cancel(Frame):
    """Stop now: queued frames are discarded and in-flight work is cancelled."""

    lane: ClassVar[Lane] = Lane.URGENT
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Interrupt(Frame):
    """Barge-in: starts generation ``generation``; older bot output is stale."""

    lane: ClassVar[Lane] = Lane.URGENT


@dataclass(frozen=True, slots=True, kw_only=True)
class DTMF(Frame):
    origin: ClassVar[Origin] = Origin.USER
    digit: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Error(Frame):
    """A processor failure; travels upstream. Fatal errors end the run."""

    message: str
    processor: str = ""
    fatal: bool = False
    exception: BaseException | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Metrics(Frame):
    """Named measurements (latency marks, counters) emitted by a processor."""

    values: dict[str, float] = field(default_factory=dict)
    processor: str = ""
