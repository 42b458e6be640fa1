"""Running a built graph: one run owns every task it starts.

``GraphRun`` is an async context manager. Entering it starts a supervisor task
that holds an ``asyncio.TaskGroup``; every processor worker and every task a
processor spawns lives in that group. ``end()`` drains (an End travels behind
all queued frames until every sink has seen it), ``cancel()`` stops at once;
both are bounded by a timeout on the run's clock, and after either no task of
the run is left.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from voiceflow.core.clock import Clock, MonotonicClock
from voiceflow.core.graph import BuiltGraph, Graph
from voiceflow.core.observers import Observer, ObserverFeed
from voiceflow.core.processor import Processor
from voiceflow.core.protocol import Generation
from voiceflow.frames.base import Frame, FrameContext, current_context
from voiceflow.frames.control import End, Error, Start

log = logging.getLogger("voiceflow.run")
F = TypeVar("F", bound=Frame)


class RunError(RuntimeError):
    """The run ended because of a fatal error (the Error frame is attached)."""

    def __init__(self, error: Error) -> None:
        super().__init__(f"{error.processor}: {error.message}")
        self.error = error


class GraphRun:
    def __init__(
        self,
        graph: Graph | BuiltGraph,
        *,
        clock: Clock | None = None,
        on_output: Callable[[Processor, Frame], None] | None = None,
        on_upstream: Callable[[Processor, Frame], None] | None = None,
        start_timeout: float = 30.0,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self.graph = graph.build() if isinstance(graph, Graph) else graph
        self.clock: Clock = clock if clock is not None else MonotonicClock()
        self.generation = Generation()
        self.context = FrameContext(self.clock, self.generation)
        self.on_output = on_output
        self.on_upstream = on_upstream
        self.start_timeout = start_timeout
        self.metadata = metadata or {}
        self.errors: list[Error] = []
        self.observers: list[ObserverFeed] = []
        self.observed = False
        self.unwatched: set[type] = set()
        self.dropped_stale = 0
        self.unrouted = 0
        self.cancel_reason: str | None = None
        self._fatal: Error | None = None
        self._sinks_ended: set[Processor] = set()
        self._done = asyncio.Event()
        self._ready = asyncio.Event()
        self._stop = asyncio.Event()
        self._tg: asyncio.TaskGroup | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._wire()

    # -- wiring -------------------------------------------------------------------------
    def _wire(self) -> None:
        for n in self.graph.nodes:
            n.attach(
                self,
                downstream=[b for a, b in self.graph.edges if a is n],
                upstream=[a for a, b in self.graph.edges if b is n],
            )

    def node(self, name: str) -> Processor:
        return self.graph.node(name)

    def add_observer(self, observer: Observer, *, queue_size: int = 4096) -> None:
        feed = ObserverFeed(observer, queue_size)
        self.observers.append(feed)
        self.observed = True
        self.unwatched.clear()
        if self._ready.is_set() and self._tg is not None:  # before that, start-up spawns every feed
            self.spawn(feed.run(), name=f"observer:{type(observer).__name__}")

    def notify(self, src: Processor, frame: Frame, upstream: bool) -> None:
        kind = type(frame)
        if not any(f.kinds is None or issubclass(kind, f.kinds) for f in self.observers):
            self.unwatched.add(kind)  # learnt once per type: later pushes of it skip this call
            return
        for feed in self.observers:
            if feed.kinds is None or isinstance(frame, feed.kinds):
                feed.offer(src, frame, upstream, self.clock.now())

    # -- lifecycle ----------------------------------------------------------------------
    async def __aenter__(self) -> GraphRun:
        await self.start()
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None, tb: Any) -> None:
        if et is None and not self._done.is_set():
            await self.end()
        else:
            await self.cancel(reason=f"context exited with {et.__name__}" if et else "exit")

    async def start(self) -> None:
        if self._supervisor is not None:
            raise RuntimeError("run already started")
        token = current_context.set(self.context)
        try:
            self._supervisor = asyncio.create_task(self._supervise(), name=f"run:{self.graph.name}")
        finally:
            current_context.reset(token)
        ready = asyncio.create_task(self._ready.wait())
        try:
            await asyncio.wait({ready, self._supervisor}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ready.cancel()
            await asyncio.gather(ready, return_exceptions=True)
        if not self._ready.is_set():
            await self._supervisor  # re-raises the setup failure
            raise RuntimeError("run stopped before it was ready")
        start = self.make(Start, metadata=dict(self.metadata))
        for src in self.graph.sources:
            src.queue.offer(start)

    async def _supervise(self) -> None:
        try:
            async with asyncio.TaskGroup() as tg:
                self._tg = tg
                async with self.clock.timeout(self.start_timeout):
                    await asyncio.gather(*(n.setup() for n in self.graph.nodes))
                for n in self.graph.nodes:
                    n.start_worker()
                for feed in self.observers:
                    self.spawn(feed.run(), name="observer")
                self._ready.set()
                await self._stop.wait()
                if self.cancel_reason is None:
                    await self._quiesce()
                for t in list(self._tasks):
                    t.cancel()
        finally:
            self._tg = None
            self._done.set()
            for n in self.graph.nodes:
                try:
                    await n.cleanup()
                except Exception:
                    log.exception("cleanup of %s failed", n.name)
                n.stop_worker()

    async def _quiesce(self) -> None:
        """After End reached every sink: let frames still travelling (upstream feedback) land."""
        nodes = self.graph.nodes
        rounds = 0
        while self.cancel_reason is None and any(n.busy for n in nodes):
            rounds += 1
            await asyncio.sleep(0 if rounds < 1000 else 0.001)
        for _ in range(1000):  # observers get a bounded chance to catch up; a stuck one is not waited for
            if not any(feed.events for feed in self.observers):
                break
            await asyncio.sleep(0)

    def spawn(self, coro: Coroutine[Any, Any, Any], *, name: str | None = None) -> asyncio.Task[Any]:
        """Start a task owned by this run (cancelled at teardown)."""
        if self._tg is None:
            coro.close()
            raise RuntimeError("run is not running")
        token = current_context.set(self.context)
        try:
            task = self._tg.create_task(coro, name=name)
        finally:
            current_context.reset(token)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def push(self, frame: Frame, *, to: Processor | str | None = None) -> None:
        """Feed a frame into a source (the only one, or ``to``)."""
        if to is None:
            if len(self.graph.sources) != 1:
                raise ValueError(
                    f"graph has sources {[s.name for s in self.graph.sources]}; say which with to="
                )
            target = self.graph.sources[0]
        else:
            target = self.node(to) if isinstance(to, str) else to
        if not target.queue.offer(frame):
            await target.queue.put(frame)

    def make(self, ftype: type[F], **fields: Any) -> F:
        """Create a frame stamped by this run's clock and generation (for code outside the run)."""
        token = current_context.set(self.context)
        try:
            return ftype(**fields)
        finally:
            current_context.reset(token)

    def bump_generation(self) -> int:
        self.generation.value += 1
        return self.generation.value

    def sink_received(self, sink: Processor, frame: Frame) -> None:
        if self.on_output is not None:
            self.on_output(sink, frame)
        if isinstance(frame, End):
            self._sinks_ended.add(sink)
            if len(self._sinks_ended) >= len(self.graph.sinks):
                self._stop.set()

    def root_received(self, root: Processor, frame: Frame) -> None:
        if isinstance(frame, Error):
            self.errors.append(frame)
        if self.on_upstream is not None:
            self.on_upstream(root, frame)

    def fail(self, error: Error) -> None:
        if self._fatal is None:
            self._fatal = error
        self.request_cancel(f"fatal error in {error.processor}")

    def request_cancel(self, reason: str) -> None:
        if self.cancel_reason is None:
            self.cancel_reason = reason
        for n in self.graph.nodes:
            n.queue.clear()
        self._stop.set()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    async def wait(self, timeout: float | None = None) -> None:
        """Wait until the run completes (an End reached every sink, or it was cancelled)."""
        try:
            async with self.clock.timeout(timeout):
                await self._done.wait()
                if self._supervisor is not None:
                    await asyncio.shield(self._supervisor)
        except TimeoutError:
            await self.cancel(reason="wait timed out")
            raise
        if self._fatal is not None:
            raise RunError(self._fatal)

    async def end(self, timeout: float | None = 10.0) -> None:
        """Drain: push End behind everything queued and wait for every sink to see it."""
        if not self._done.is_set():
            end = self.make(End)
            for src in self.graph.sources:
                await src.queue.put(end)
        await self.wait(timeout)

    async def cancel(self, reason: str = "cancelled", timeout: float = 5.0) -> None:
        """Stop now: queued frames are dropped, every task of the run is cancelled."""
        if self._supervisor is None:
            return
        self.request_cancel(reason)
        try:
            async with asyncio.timeout(timeout):
                await asyncio.gather(self._supervisor, return_exceptions=True)
        except TimeoutError:
            self._supervisor.cancel()
            await asyncio.gather(self._supervisor, return_exceptions=True)

    def stats(self) -> dict[str, dict[str, int]]:
        """Per-processor gauges: queue depth and high water, frames handled, frames dropped."""
        return {
            n.name: {
                "depth": n.queue.depth,
                "high_water": n.queue.high_water,
                "processed": n.processed,
                "dropped_stale": n.queue.dropped_stale,
                "dropped_overflow": n.queue.dropped_overflow,
            }
            for n in self.graph.nodes
        }
