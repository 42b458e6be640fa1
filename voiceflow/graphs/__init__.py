"""Facade: graph building, validation and running; the clock; observers (they live in ``voiceflow.core``)."""

from voiceflow.core import (
    BuiltGraph,
    Clock,
    Collector,
    FrameLog,
    Graph,
    GraphError,
    GraphRun,
    Merge,
    MonotonicClock,
    Observer,
    PushEvent,
    Router,
    RunError,
    VirtualClock,
    settle,
)

__all__ = [
    "BuiltGraph",
    "Clock",
    "Collector",
    "FrameLog",
    "Graph",
    "GraphError",
    "GraphRun",
    "Merge",
    "MonotonicClock",
    "Observer",
    "PushEvent",
    "Router",
    "RunError",
    "VirtualClock",
    "settle",
]
