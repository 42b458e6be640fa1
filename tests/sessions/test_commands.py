"""Two instances' call registries sharing a real redis-server: records, commands to the owner, counts."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import redis.asyncio as aioredis

from tests.sessions.conftest import collecting_factory, ends
from tests.sessions.test_store import until
from voiceflow.calls import CallContext, CallRegistry
from voiceflow.frames import Intent, ToolCall, ToolResult, Transcript
from voiceflow.graphs import Collector
from voiceflow.sessions import CallSessions, CommandFailed, RedisBackend, SessionStore
from voiceflow.sessions.backend import instance_channel, session_key
from voiceflow.testing.processes import RedisServer


@dataclass
class Instance:
    sessions: CallSessions
    registry: CallRegistry
    sinks: dict[str, Collector]

    async def open(self, call_id: str) -> None:
        inp, out = ends()
        ctx = CallContext(call_id, "websocket", caller="+15550123", metadata={"campaign": "spring"})
        await self.registry.open(ctx, collecting_factory(self.sinks), inp, out)


async def make_instance(name: str, url: str | None) -> Instance:
    backend = RedisBackend(url, timeout_s=0.3) if url else None
    store = SessionStore(name, backend, heartbeat_s=0.2, retry_s=0.05, ttl_s=600)
    sessions = CallSessions(store, reply_timeout_s=2.0)
    registry = CallRegistry()
    sessions.attach(registry)
    await sessions.start()
    if url:
        await asyncio.wait_for(sessions.bus.subscribed.wait(), 5)
    return Instance(sessions, registry, {})


@pytest.fixture
async def pair(redis_server: RedisServer) -> AsyncIterator[tuple[Instance, Instance]]:
    a = await make_instance("a", redis_server.url)
    b = await make_instance("b", redis_server.url)
    yield a, b
    for inst in (a, b):
        try:
            async with asyncio.timeout(20):  # a stuck close fails the test, with every task's stack
                await inst.registry.close_all()
                await inst.sessions.aclose()
        except TimeoutError:
            for task in asyncio.all_tasks():
                task.print_stack(file=sys.stderr)
            raise


async def test_a_call_gets_a_record_that_follows_its_transcript_tools_and_end(
    pair: tuple[Instance, Instance], raw: aioredis.Redis
) -> None:
    a, b = pair
    await a.open("call-1")
    run = a.registry.calls["call-1"].run
    await run.push(run.make(Transcript, text="where is my order"))
    await run.push(
        run.make(ToolCall, call_id="t1", tool="check_order_status", arguments={"order_id": "1002"})
    )
    await run.push(run.make(ToolResult, call_id="t1", tool="check_order_status", result={}, status="done"))
    await until(lambda: a.sessions.store.records["call-1"].tools == {"t1": "check_order_status:done"})
    record = await b.sessions.get("call-1")  # read by the other instance, from redis
    assert record is not None and record.instance == "a" and record.caller == "+15550123"
    assert record.summary == "caller: where is my order\n" and record.metadata == {"campaign": "spring"}
    assert record.started_at > 0 and record.live
    await a.registry.close("call-1")
    stored = json.loads(await raw.get(session_key("call-1")))
    assert stored["state"] == "ended"


async def test_a_hangup_sent_to_b_ends_the_call_on_a(pair: tuple[Instance, Instance]) -> None:
    a, b = pair
    await a.open("call-1")
    await a.open("call-2")
    result = await b.sessions.send("call-1", "hangup")
    assert result == {"instance": "a", "action": "hangup", "call_id": "call-1"}
    assert "call-1" not in a.registry.calls and "call-2" in a.registry.calls  # the other call goes on
    assert (await b.sessions.get("call-1")).state == "ended"  # type: ignore[union-attr]
    with pytest.raises(CommandFailed, match="no longer live"):
        await b.sessions.send("call-1", "hangup")


async def test_a_transfer_reaches_the_owning_call_as_a_transfer_intent(
    pair: tuple[Instance, Instance],
) -> None:
    a, b = pair
    await a.open("call-1")
    result = await b.sessions.send("call-1", "transfer", {"department": "billing"})
    assert result["department"] == "billing" and result["instance"] == "a"
    sink = a.sinks["call-1"]
    await until(lambda: bool(sink.of(Intent)))
    (intent,) = sink.of(Intent)
    assert intent.intent == "transfer_to_human" and intent.entities == {"department": "billing"}
    assert (await b.sessions.get("call-1")).state == "transferring"  # type: ignore[union-attr]


async def test_a_registered_campaign_command_runs_on_the_owner(pair: tuple[Instance, Instance]) -> None:
    a, b = pair
    seen: list[tuple[str, dict[str, object]]] = []

    async def campaign(command):  # type: ignore[no-untyped-def]
        seen.append((command.call_id, command.args))
        return {"paused": True}

    a.sessions.register("campaign", campaign)
    await a.open("call-1")
    assert await b.sessions.send("call-1", "campaign", {"op": "pause"}) == {"instance": "a", "paused": True}
    assert seen == [("call-1", {"op": "pause"})]


async def test_command_errors_are_precise(pair: tuple[Instance, Instance]) -> None:
    a, b = pair
    await a.open("call-1")
    with pytest.raises(CommandFailed, match="no session") as info:
        await b.sessions.send("nope", "hangup")
    assert info.value.status == 404
    with pytest.raises(CommandFailed, match="unknown action 'dance'") as info:
        await b.sessions.send("call-1", "dance")
    assert info.value.status == 400
    await a.sessions.aclose()  # a is gone (heartbeat removed): its record stays readable
    record = await b.sessions.get("call-1")
    assert record is not None and record.instance == "a"
    with pytest.raises(CommandFailed, match="not alive") as info:
        await b.sessions.send("call-1", "hangup")
    assert info.value.status == 410


async def test_garbage_and_stale_messages_on_the_bus_are_ignored(
    pair: tuple[Instance, Instance], raw: aioredis.Redis
) -> None:
    a, b = pair
    await a.open("call-1")
    channel = instance_channel("a")
    stale = {
        "v": 1,
        "kind": "command",
        "id": "x1",
        "call_id": "call-1",
        "action": "hangup",
        "from": "b",
        "to_boot": "an-earlier-boot",
        "args": {},
    }
    for message in [
        "not json",
        "[1, 2]",
        json.dumps({"kind": "mystery"}),
        json.dumps({"kind": "command"}),
        json.dumps({"kind": "count", "instance": "z"}),
        json.dumps(stale),
        json.dumps({"kind": "reply", "id": "nobody-waits"}),
        "x" * 70_000,
    ]:
        await raw.publish(channel, message)
    await until(lambda: sum(a.sessions.bus.ignored.values()) == 8)
    assert a.sessions.bus.ignored["stale"] == 1 and a.sessions.bus.ignored["unknown kind"] == 1
    assert "call-1" in a.registry.calls  # the stale hang-up did nothing
    assert (await b.sessions.send("call-1", "hangup"))["action"] == "hangup"  # the bus still works


async def test_live_call_counts_across_instances(pair: tuple[Instance, Instance]) -> None:
    a, b = pair
    await a.open("a1")
    await a.open("a2")
    await b.open("b1")
    await until(lambda: _counts(b, {"a": 2, "b": 1}))
    await until(lambda: {n: i.calls for n, i in b.sessions.bus.cluster().items()} == {"a": 2, "b": 1})
    await a.registry.close("a1")
    await until(lambda: _counts(b, {"a": 1, "b": 1}))


async def _counts(inst: Instance, expected: dict[str, int]) -> bool:
    return {n: i.calls for n, i in (await inst.sessions.cluster()).items()} == expected


async def test_calls_go_on_while_redis_is_down_and_their_records_come_back(
    pair: tuple[Instance, Instance], redis_server: RedisServer, raw: aioredis.Redis
) -> None:
    a, b = pair
    await a.open("call-1")
    redis_server.kill()
    run = a.registry.calls["call-1"].run
    await run.push(run.make(Transcript, text="are you still there"))
    await a.open("call-2")  # a new call while redis is gone
    await until(lambda: "still there" in a.sessions.store.records["call-1"].summary)
    assert a.sessions.store.degraded
    with pytest.raises(CommandFailed) as info:  # b cannot reach a's call now: a clear 503
        await b.sessions.send("call-1", "hangup")
    assert info.value.status in (404, 503)
    assert (await a.sessions.send("call-1", "transfer"))["instance"] == "a"  # local commands still work
    redis_server.start()
    await until(lambda: not a.sessions.store.degraded and not b.sessions.store.degraded)
    await until(lambda: a.sessions.bus.subscribed.is_set() and b.sessions.bus.subscribed.is_set())
    assert json.loads(await raw.get(session_key("call-2")))["instance"] == "a"
    stored = json.loads(await raw.get(session_key("call-1")))
    assert "still there" in stored["summary"] and stored["state"] == "transferring"
    assert (await b.sessions.send("call-2", "hangup"))["instance"] == "a"


async def test_memory_only_instance_runs_commands_locally() -> None:
    solo = await make_instance("solo", None)
    try:
        await solo.open("c")
        assert (await solo.sessions.send("c", "hangup"))["instance"] == "solo"
        assert "c" not in solo.registry.calls
        assert {n: i.calls for n, i in (await solo.sessions.cluster()).items()} == {"solo": 0}
    finally:
        await solo.registry.close_all()
        await solo.sessions.aclose()
