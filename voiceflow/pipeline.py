"""A pipeline: what a ready-made agent shares across calls, and the graph it builds for each one.

Three phases, all on one object:

- ``await pipeline.prepare()``: once per process, before the first call (open the
  database, load models). The server's lifespan runs it at startup.
- ``pipeline.build(ctx, input, output) -> Graph``: per call, between the transport's
  two ends (a ``PipelineFactory``). Cheap: per-call state only.
- ``await pipeline.shutdown()``: once, after the last call has closed; it also runs
  when ``prepare`` failed midway, so it releases only what was opened.

A module in ``pipelines/`` exposes ``pipeline(config: Config) -> Pipeline``: the
config is read once by the command and handed over; nothing is module-level state.
``voiceflow.commands.serve.load_pipeline("offline", config)`` finds
``pipelines.offline:pipeline`` (the commands sit above ``pipelines/``; this module
sits below it). A pipeline whose calls share nothing wraps its build function in
``Stateless``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from voiceflow.calls import CallContext, PipelineFactory
from voiceflow.graphs import Graph
from voiceflow.processors import Processor

__all__ = ["Pipeline", "Stateless", "as_pipeline"]


@runtime_checkable
class Pipeline(Protocol):
    async def prepare(self) -> None: ...

    def build(self, ctx: CallContext, input: Processor, output: Processor) -> Graph: ...

    async def shutdown(self) -> None: ...


@dataclass(frozen=True)
class Stateless:
    """A pipeline without shared resources: each call's graph is all there is."""

    factory: PipelineFactory

    async def prepare(self) -> None:
        return None

    def build(self, ctx: CallContext, input: Processor, output: Processor) -> Graph:
        return self.factory(ctx, input, output)

    async def shutdown(self) -> None:
        return None


def as_pipeline(target: Pipeline | PipelineFactory) -> Pipeline:
    """``target`` itself when it is a pipeline; a bare build function becomes ``Stateless``."""
    return target if isinstance(target, Pipeline) else Stateless(target)
