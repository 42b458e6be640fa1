"""Graph building, validation and running; the clock; observers."""

from voiceflow.graphs.clock import Clock, MonotonicClock, VirtualClock, settle
from voiceflow.graphs.graph import BuiltGraph, Graph, GraphError
from voiceflow.graphs.nodes import Collector, Merge, Router
from voiceflow.graphs.observers import FrameLog, Observer, PushEvent
from voiceflow.graphs.runner import GraphRun, RunError

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
