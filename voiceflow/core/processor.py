"""The processor: one node of a graph.

A processor declares the frame types it consumes (by registering handlers with
``@on``) and the types it produces (``produces``). Frames without a handler pass
through unchanged. Each processor has a bounded input queue and one worker task
owned by the graph run; handlers run one at a time, so a processor sees frames
in the order they were pushed on each edge.

Interruption: an ``Interrupt`` overtakes queued frames, queued bot output of an
older generation is discarded, and when the processor produces bot output its
in-flight handler (and turn-scoped tasks) of the old generation are cancelled.
User input is never dropped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ClassVar, TypeVar

from voiceflow.core.protocol import RunContext
from voiceflow.core.queue import FrameQueue, Overflow
from voiceflow.frames.base import Frame, Lane, Origin, handling_generation
from voiceflow.frames.control import Cancel, End, Error, Interrupt, Start

log = logging.getLogger("voiceflow.processor")

P = TypeVar("P", bound="Processor")
FrameT = TypeVar("FrameT", bound=Frame)
HandlerFn = Callable[[Any, Any], Awaitable[None]]  # as declared: (self, frame)
Handler = Callable[[Any], Awaitable[None]]  # bound to a processor

_HANDLES = "__voiceflow_handles__"


def on(*frame_types: type[Frame], upstream: bool = False) -> Callable[[HandlerFn], HandlerFn]:
    """Register a method as the handler of ``frame_types`` (downstream, or upstream)."""

    def mark(fn: HandlerFn) -> HandlerFn:
        regs = getattr(fn, _HANDLES, [])
        regs.extend((t, upstream) for t in frame_types)
        setattr(fn, _HANDLES, regs)
        return fn

    return mark


class FatalError(Exception):
    """Raised by a handler when the run cannot go on (the run ends with this error)."""


class Processor:
    """Base class: subclass, register handlers with ``@on(FrameType)``, push with ``push``."""

    #: Frame types this processor may emit (used by build-time validation).
    produces: ClassVar[tuple[type[Frame], ...]] = ()
    #: Declared input bound and what happens when it is full.
    queue_size: ClassVar[int] = 256
    overflow: ClassVar[Overflow] = Overflow.BLOCK

    _down_handlers: ClassVar[dict[type[Frame], str]] = {}
    _up_handlers: ClassVar[dict[type[Frame], str]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        down: dict[type[Frame], str] = {}
        up: dict[type[Frame], str] = {}
        for klass in reversed(cls.__mro__):
            for attr, value in vars(klass).items():
                for ftype, is_up in getattr(value, _HANDLES, ()):
                    (up if is_up else down)[ftype] = attr
        cls._down_handlers = down
        cls._up_handlers = up

    def __init__(self, *, name: str | None = None, queue_size: int | None = None) -> None:
        self.name = name or type(self).__name__
        self.queue = FrameQueue(queue_size or self.queue_size, self.overflow)
        self.downstream: list[Processor] = []
        self.upstream: list[Processor] = []
        self.processed = 0
        self._run: RunContext | None = None
        self._worker: asyncio.Task[None] | None = None
        self._inflight_gen: int | None = None
        self._interrupting = False
        self._turn_tasks: dict[asyncio.Task[Any], int] = {}
        self._resolved: dict[tuple[type[Frame], bool], Handler | None] = {}
        self.interruptible = any(t.origin is Origin.BOT for t in self.produces)
        # lifecycle frames are the base's: hooks, then forward (never a user handler)
        self._resolved[(Start, False)] = self._handle_start
        self._resolved[(End, False)] = self._handle_end

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    # -- declarations -------------------------------------------------------
    @classmethod
    def consumes(cls, upstream: bool = False) -> tuple[type[Frame], ...]:
        return tuple((cls._up_handlers if upstream else cls._down_handlers).keys())

    # -- lifecycle hooks (override) ----------------------------------------
    async def setup(self) -> None:
        """Acquire resources before the first frame (models, sockets)."""

    async def on_start(self, frame: Start) -> None:
        """Called in order when ``Start`` reaches this processor (before forwarding it)."""

    async def on_end(self, frame: End) -> None:
        """Flush pending work; called in order before ``End`` is forwarded."""

    async def on_interrupt(self, frame: Interrupt) -> None:
        """Stop bot output of the old generation (called on the urgent lane)."""

    async def cleanup(self) -> None:
        """Release resources; always called when the run tears down."""

    # -- the runner's side of the run protocol ------------------------------------
    def attach(self, run: RunContext, downstream: list[Processor], upstream: list[Processor]) -> None:
        """Join ``run`` with these neighbours (once: a processor belongs to one run)."""
        if self._run is not None:
            raise RuntimeError(f"processor {self.name!r} already belongs to a run")
        self._run = run
        self.downstream = downstream
        self.upstream = upstream

    def start_worker(self) -> None:
        """Start the task that takes frames from the queue, in the run's task group."""
        self._worker = self.run.spawn(self._work(), name=f"worker:{self.name}")

    def stop_worker(self) -> None:
        """Forget the worker after teardown (the run cancelled it)."""
        self._worker = None

    @property
    def busy(self) -> bool:
        """Frames queued or a handler running (the runner waits for quiet before it stops)."""
        return bool(self.queue.items) or self._inflight_gen is not None

    # -- run access ----------------------------------------------------------
    @property
    def run(self) -> RunContext:
        if self._run is None:
            raise RuntimeError(f"processor {self.name!r} is not part of a running graph")
        return self._run

    @property
    def generation(self) -> int:
        """The run's current turn generation."""
        return self.run.generation.value

    def superseded(self, frame: Frame) -> bool:
        """A caller's turn (its transcript, or an intent made from it, which keeps the
        transcript's generation) from before the latest interrupt: the turn was continued or cut
        since, and answering it now would answer half a request."""
        return frame.generation < self.generation

    def now(self) -> float:
        return self.run.clock.now()

    # -- pushing ----------------------------------------------------------------
    async def push(self, frame: Frame) -> None:
        """Send ``frame`` downstream (to every successor)."""
        run = self._run
        if run is None:
            raise RuntimeError(f"processor {self.name!r} is not part of a running graph")
        if frame.lane is Lane.URGENT:
            await self._push_urgent(frame, upstream=False)
            return
        if frame.origin is Origin.BOT and frame.generation < run.generation.value:
            run.dropped_stale += 1
            return
        if run.observed and type(frame) not in run.unwatched:  # types no observer wants skip the call
            run.notify(self, frame, False)
        targets = self.downstream
        if not targets:
            run.sink_received(self, frame)
            return
        for t in targets:
            if not t.queue.offer(frame):
                await t.queue.put(frame)

    async def push_up(self, frame: Frame) -> None:
        """Send ``frame`` upstream (errors, tool-result feedback, playout reports)."""
        run = self.run
        if frame.lane is Lane.URGENT:
            await self._push_urgent(frame, upstream=True)
            return
        if run.observed:
            run.notify(self, frame, True)
        if not self.upstream:
            run.root_received(self, frame)
            return
        for t in self.upstream:
            if t._handler(type(frame), True) is None:
                # not for this processor: pass it on now rather than behind its busy handler, so
                # playout feedback (bot speaking, played position) is never held up by, say, a
                # TTS synthesizing a long reply
                await t.push_up(frame)
            else:
                t.queue.offer(frame, True)

    async def report_error(self, message: str, *, exception: BaseException | None = None) -> None:
        """Tell upstream about a recoverable failure (bad input, a failed lookup); the run goes on.

        The ``Error`` names this processor. Failures that must end the run raise ``FatalError``.
        """
        await self.push_up(Error(message=message, processor=self.name, exception=exception))

    async def interrupt(self) -> Interrupt:
        """Start a new generation and send the Interrupt both ways."""
        frame = Interrupt(generation=self.run.bump_generation())
        await self._deliver_interrupt(frame)
        await self._push_urgent(frame, upstream=False)
        await self._push_urgent(frame, upstream=True)
        return frame

    async def _push_urgent(self, frame: Frame, upstream: bool) -> None:
        run = self.run
        if isinstance(frame, Cancel):
            run.request_cancel(frame.reason or f"cancelled by {self.name}")
            return
        if run.observed:
            run.notify(self, frame, upstream)
        for t in self.upstream if upstream else self.downstream:
            await t._receive_urgent(frame, upstream)

    async def _receive_urgent(self, frame: Frame, upstream: bool) -> None:
        if isinstance(frame, Interrupt):
            await self._deliver_interrupt(frame)
        await self._push_urgent(frame, upstream)

    async def _deliver_interrupt(self, frame: Interrupt) -> None:
        gen = frame.generation
        self.queue.dropped_stale += self.queue.purge(
            lambda f, up: not (f.origin is Origin.BOT and f.generation < gen)
        )
        if self.interruptible:
            self._cancel_stale(gen)
        await self.on_interrupt(frame)

    def _cancel_stale(self, gen: int) -> None:
        for task, tgen in list(self._turn_tasks.items()):
            if tgen < gen:
                task.cancel()
        w = self._worker
        if (
            w is not None
            and self._inflight_gen is not None
            and self._inflight_gen < gen
            and not self._interrupting
            and w is not asyncio.current_task()
        ):
            self._interrupting = True
            w.cancel()

    async def _handle_start(self, frame: Start) -> None:
        await self.on_start(frame)
        await self.push(frame)

    async def _handle_end(self, frame: End) -> None:
        await self.on_end(frame)
        await self.push(frame)

    # -- tasks -----------------------------------------------------------------
    def create_task(self, coro: Coroutine[Any, Any, Any], *, turn: bool = True) -> asyncio.Task[Any]:
        """Run ``coro`` in the run's task group; ``turn`` tasks die with their generation."""
        gen = handling_generation.get()
        if gen is None:
            gen = self.generation
        task = self.run.spawn(self._guard(coro), name=f"{self.name}:task")
        # a task cancelled before its first step never awaits ``coro``: close it quietly
        task.add_done_callback(lambda _: coro.close())
        if turn and self.interruptible:
            self._turn_tasks[task] = gen
            task.add_done_callback(self._turn_tasks.pop)
        return task

    async def _guard(self, coro: Coroutine[Any, Any, Any]) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await self._report(exc)

    async def _report(self, exc: BaseException) -> None:
        fatal = isinstance(exc, FatalError)
        log.log(
            logging.ERROR if fatal else logging.WARNING,
            "%s: %s: %s",
            self.name,
            type(exc).__name__,
            exc,
        )
        err = Error(message=f"{type(exc).__name__}: {exc}", processor=self.name, fatal=fatal, exception=exc)
        await self.push_up(err)
        if fatal:
            self.run.fail(err)

    # -- the worker --------------------------------------------------------------
    def _handler(self, ftype: type[Frame], upstream: bool) -> Handler | None:
        key = (ftype, upstream)
        try:
            return self._resolved[key]
        except KeyError:
            pass
        table = self._up_handlers if upstream else self._down_handlers
        found: Handler | None = None
        for klass in ftype.__mro__:
            attr = table.get(klass)
            if attr is not None:
                found = getattr(self, attr)
                break
        self._resolved[key] = found
        return found

    async def _dispatch(self, frame: Frame, upstream: bool) -> None:
        handler = self._handler(type(frame), upstream)
        if handler is not None:
            await handler(frame)
        elif upstream:
            await self.push_up(frame)
        else:
            await self.push(frame)

    async def _work(self) -> None:
        queue = self.queue
        run = self.run
        genstate = run.generation
        task = asyncio.current_task()
        assert task is not None
        while True:
            try:
                while True:
                    if not queue.items:
                        await queue.wait()
                    frame, upstream = queue.pop()
                    origin = frame.origin
                    if origin is Origin.BOT:
                        if frame.generation < genstate.value:
                            queue.dropped_stale += 1
                            continue
                        self._inflight_gen = frame.generation
                        token = handling_generation.set(frame.generation)
                    else:
                        self._inflight_gen = genstate.value
                        token = handling_generation.set(None)
                    try:
                        await self._dispatch(frame, upstream)
                    except asyncio.CancelledError:
                        raise
                    except Exception as exc:
                        await self._report(exc)
                    finally:
                        handling_generation.reset(token)
                        self._inflight_gen = None
                    self.processed += 1
            except asyncio.CancelledError:
                if self._interrupting:
                    self._interrupting = False
                    self._inflight_gen = None
                    if task.uncancel() == 0:
                        continue
                raise


class Passthrough(Processor):
    """Forwards everything: the unit of the framework benchmark and a placeholder node."""
