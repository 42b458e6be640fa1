"""One thread per stream for blocking decoders, jobs run strictly in the order submitted.

A recognizer's decoder state cannot be touched by two threads, and an utterance's
audio must be decoded in order, so each stream owns a single-thread executor.
Awaiting a job is cancellation-safe: a job that already started finishes in its
thread (the decoder is never left half-updated) and later jobs wait behind it. No
asyncio task is created, so nothing outlives the caller's run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import ParamSpec, TypeVar

T = TypeVar("T")
P = ParamSpec("P")


class SerialWorker:
    def __init__(self, name: str) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._closed = False

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """Queue ``fn`` behind the jobs already submitted (for work nobody awaits)."""
        return self._executor.submit(fn, *args, **kwargs)

    async def call(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn`` in the stream's thread after the jobs before it; await its result."""
        return await asyncio.wrap_future(self._executor.submit(fn, *args, **kwargs))

    async def close(self, last: Callable[[], None] | None = None) -> None:
        """Run ``last`` after every queued job (even if this await is cancelled), then stop the thread."""
        if self._closed:
            return
        self._closed = True
        try:
            if last is not None:
                await asyncio.shield(asyncio.wrap_future(self._executor.submit(last)))
        finally:
            self._executor.shutdown(wait=False)
