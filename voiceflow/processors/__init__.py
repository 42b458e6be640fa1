"""Processors: one package per family; the base class lives in ``voiceflow.core`` (re-exported here)."""

from voiceflow.core import FatalError, FrameQueue, Overflow, Passthrough, Processor, on

__all__ = ["FatalError", "FrameQueue", "Overflow", "Passthrough", "Processor", "on"]
