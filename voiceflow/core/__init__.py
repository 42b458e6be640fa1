"""The runtime: the processor, its bounded queue, graphs, the runner, clocks, observers.

One package with a narrow run protocol (``voiceflow.core.protocol``) between the
processor and the run. Engineers usually import from the facades
``voiceflow.processors`` (``Processor``, ``on``) and ``voiceflow.graphs``.
"""

from voiceflow.core.clock import Clock, MonotonicClock, VirtualClock, settle
from voiceflow.core.graph import BuiltGraph, Graph, GraphError
from voiceflow.core.nodes import Collector, Merge, Router
from voiceflow.core.observers import FrameLog, Observer, PushEvent
from voiceflow.core.processor import FatalError, Passthrough, Processor, on
from voiceflow.core.protocol import Generation, RunContext
from voiceflow.core.queue import FrameQueue, Overflow
from voiceflow.core.runner import GraphRun, RunError

__all__ = [
    "BuiltGraph",
    "Clock",
    "Collector",
    "FatalError",
    "FrameLog",
    "FrameQueue",
    "Generation",
    "Graph",
    "GraphError",
    "GraphRun",
    "Merge",
    "MonotonicClock",
    "Observer",
    "Overflow",
    "Passthrough",
    "Processor",
    "PushEvent",
    "Router",
    "RunContext",
    "RunError",
    "VirtualClock",
    "on",
    "settle",
]
