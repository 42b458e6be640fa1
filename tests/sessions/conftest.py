"""A real redis-server per test on a free port, stopped afterwards; a tiny call graph."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import redis.asyncio as aioredis

from voiceflow.calls import CallContext
from voiceflow.core.processor import Passthrough
from voiceflow.frames import AudioRaw, Intent
from voiceflow.graphs import Collector, Graph
from voiceflow.processors import Processor
from voiceflow.testing.processes import RedisServer


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture
async def raw(redis_server: RedisServer) -> AsyncIterator[aioredis.Redis]:
    """A plain client to look at (and damage) what the store wrote."""
    client = aioredis.Redis.from_url(redis_server.url, decode_responses=True)
    yield client
    await client.aclose()


def collecting_factory(sinks: dict[str, Collector]):  # type: ignore[no-untyped-def]
    """A pipeline factory whose graph is input -> output; each call's output is kept by call id."""

    def factory(ctx: CallContext, input: Processor, output: Processor) -> Graph:
        sinks[ctx.call_id] = output  # type: ignore[assignment]
        return Graph(f"call-{ctx.call_id}", inputs=[AudioRaw, Intent]).chain(input, output)

    return factory


def ends() -> tuple[Processor, Collector]:
    return Passthrough(name="input"), Collector(name="output")
