"""Processors: the base class, then one package per family."""

from voiceflow.processors.base import FatalError, Passthrough, Processor, on
from voiceflow.processors.queue import FrameQueue, Overflow

__all__ = ["FatalError", "FrameQueue", "Overflow", "Passthrough", "Processor", "on"]
