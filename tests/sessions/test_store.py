"""The session store against a real redis-server: records, TTLs, fallback to memory and resync."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

import pytest
import redis.asyncio as aioredis
from prometheus_client import REGISTRY

from voiceflow.sessions import RedisBackend, SessionRecord, SessionStore
from voiceflow.sessions.backend import live_key, session_key
from voiceflow.sessions.metrics import FALLBACK_METRIC
from voiceflow.testing.processes import RedisServer


async def until(check: Callable[[], Awaitable[bool] | bool], timeout_s: float = 10.0) -> None:
    """Wait for a real process to get somewhere (Redis restarting, a heartbeat landing)."""
    async with asyncio.timeout(timeout_s):
        while True:
            result = check()
            if await result if isinstance(result, Awaitable) else result:
                return
            await asyncio.sleep(0.05)


def rec(call_id: str, instance: str = "a", **changes: object) -> SessionRecord:
    base = SessionRecord(
        call_id, instance, "websocket", "+15550100", started_at=100.0, updated_at=100.0, version=1
    )
    return base.changed(100.0, **changes) if changes else base


def store(url: str, instance: str = "a", **options: object) -> SessionStore:
    defaults: dict[str, object] = {"heartbeat_s": 0.2, "retry_s": 0.05, "ttl_s": 600}
    return SessionStore(instance, RedisBackend(url, timeout_s=0.3), **(defaults | options))  # type: ignore[arg-type]


def fallback_count() -> float:
    return REGISTRY.get_sample_value(FALLBACK_METRIC) or 0.0


async def session_keys(raw: aioredis.Redis) -> list[str]:
    return sorted([k async for k in raw.scan_iter(match=session_key("*"))])


async def test_a_record_round_trips_through_redis_with_its_ttl(
    redis_server: RedisServer, raw: aioredis.Redis
) -> None:
    s = store(redis_server.url, ttl_s=120)
    await s.start()
    try:
        await s.put(rec("c1", summary="caller: hi\n", tools={"t1": "check_order_status:done"}))
        assert s.shared and not s.degraded
        stored = json.loads(await raw.get(session_key("c1")))
        assert stored["instance"] == "a" and stored["caller"] == "+15550100" and stored["version"] == 2
        assert stored["tools"] == {"t1": "check_order_status:done"}
        assert 0 < await raw.ttl(session_key("c1")) <= 120
        assert await raw.smembers(live_key("a")) == {"c1"}
        other = store(redis_server.url, "b")  # another instance reads it
        got = await other.get("c1")
        assert got is not None and got.summary == "caller: hi\n" and got.instance == "a"
        await other.aclose()
        await s.put(s.records["c1"].changed(101.0, state="ended"))
        assert await raw.smembers(live_key("a")) == set()
        assert json.loads(await raw.get(session_key("c1")))["state"] == "ended"
    finally:
        await s.aclose()


async def test_instances_are_seen_by_heartbeat_and_forgotten_on_close(redis_server: RedisServer) -> None:
    a, b = store(redis_server.url, "a"), store(redis_server.url, "b")
    await a.start()
    await b.start()
    try:
        await a.put(rec("c1"))
        await a.put(rec("c2"))
        a.announce()
        await until(lambda: _calls_of(b, "a", 2))
        seen = await b.instances()
        assert set(seen) == {"a", "b"} and seen["a"].boot == a.boot
        await a.aclose()
        assert set(await b.instances()) == {"b"}
    finally:
        await a.aclose()
        await b.aclose()


async def _calls_of(s: SessionStore, name: str, n: int) -> bool:
    info = (await s.instances()).get(name)
    return info is not None and info.calls == n


async def test_a_newer_version_in_redis_is_never_overwritten_by_an_older_one(
    redis_server: RedisServer, raw: aioredis.Redis
) -> None:
    backend = RedisBackend(redis_server.url)
    try:
        newer = rec("c1").changed(1.0, summary="new")
        assert await backend.write(newer, 60)
        assert not await backend.write(rec("c1"), 60)  # version 1 < 2
        assert json.loads(await raw.get(session_key("c1")))["summary"] == "new"
    finally:
        await backend.aclose()


async def test_redis_dying_mid_call_falls_back_to_memory_and_resyncs_without_loss_or_duplicates(
    redis_server: RedisServer, raw: aioredis.Redis
) -> None:
    s = store(redis_server.url)
    await s.start()
    before = fallback_count()
    try:
        await s.put(rec("live-before"))
        await s.put(rec("ends-during"))
        redis_server.kill()
        # writes go on from memory: a new call, a summary, a call that ends
        await s.put(rec("new-during"))
        assert s.degraded and s.fallbacks == 1 and fallback_count() == before + 1
        await s.put(s.records["live-before"].changed(2.0, summary="caller: still here\n"))
        await s.put(s.records["ends-during"].changed(3.0, state="ended"))
        got = await s.get("new-during")
        assert got is not None and got.instance == "a"
        assert s.fallbacks == 1  # one switch, counted once
        redis_server.start()  # same port, empty: nothing persisted
        await until(lambda: not s.degraded)
        assert s.resyncs == 1
        assert await session_keys(raw) == sorted(
            session_key(c) for c in ("ends-during", "live-before", "new-during")
        )
        assert await raw.smembers(live_key("a")) == {"live-before", "new-during"}
        stored = json.loads(await raw.get(session_key("live-before")))
        assert stored["summary"] == "caller: still here\n"
        assert json.loads(await raw.get(session_key("ends-during")))["state"] == "ended"
        assert s.pending == set() and s.lost == 0
    finally:
        await s.aclose()


async def test_a_redis_that_was_never_there_is_memory_until_it_appears(raw: aioredis.Redis) -> None:
    server = RedisServer()
    s = store(server.url)
    await s.start()  # nothing listens yet
    try:
        assert s.degraded
        await s.put(rec("early"))
        assert (await s.get("early")) is not None
        server.start()
        await until(lambda: not s.degraded)
        check = aioredis.Redis.from_url(server.url, decode_responses=True)
        assert json.loads(await check.get(session_key("early")))["call_id"] == "early"
        await check.aclose()
    finally:
        await s.aclose()
        server.__exit__()


async def test_corrupted_session_json_is_reported_and_the_own_copy_used(
    redis_server: RedisServer, raw: aioredis.Redis
) -> None:
    s = store(redis_server.url)
    await s.start()
    try:
        await s.put(rec("mine"))
        await raw.set(session_key("mine"), "{not json")
        await raw.set(session_key("theirs"), json.dumps({"call_id": "theirs", "state": "live"}))
        await raw.set(
            session_key("worse"),
            json.dumps({"call_id": "w", "instance": "b", "transport": "x", "state": "dancing"}),
        )
        await raw.rpush(session_key("listed"), "a")  # a key of the wrong type
        await raw.set(live_key("a"), "not a set")
        got = await s.get("mine")
        assert got is not None and got.call_id == "mine"
        assert await s.get("theirs") is None and await s.get("worse") is None
        assert await s.get("listed") is None
        assert s.corrupt == 4 and not s.degraded
        await s.put(rec("listed"))  # the damaged keys are replaced, redis stays in use
        assert not s.degraded and json.loads(await raw.get(session_key("listed")))["call_id"] == "listed"
        assert await raw.smembers(live_key("a")) == {"listed"}
        await s.put(s.records["mine"].changed(5.0, summary="x"))  # a damaged value is replaced
        assert json.loads(await raw.get(session_key("mine")))["summary"] == "x"
    finally:
        await s.aclose()


async def test_a_full_redis_memory_limit_falls_back_then_resyncs(
    redis_server: RedisServer, raw: aioredis.Redis
) -> None:
    s = store(redis_server.url)
    await s.start()
    try:
        await raw.config_set("maxmemory-policy", "noeviction")
        await raw.set("ballast", "x" * 2_000_000)
        used = int((await raw.info("memory"))["used_memory"])
        await raw.config_set("maxmemory", str(used - 1024))  # full: every write is refused with OOM
        await s.put(rec("oom"))
        assert s.degraded and "oom" in s.pending
        await raw.delete("ballast")  # room again
        await until(lambda: not s.degraded)
        assert json.loads(await raw.get(session_key("oom")))["call_id"] == "oom"
    finally:
        await s.aclose()


async def test_a_redis_that_stops_answering_times_out_into_memory(
    redis_server: RedisServer, raw: aioredis.Redis
) -> None:
    s = store(redis_server.url)
    await s.start()
    try:
        await raw.execute_command("CLIENT", "PAUSE", "1500", "ALL")  # connections stay open, nothing answers
        loop = asyncio.get_running_loop()
        started = loop.time()
        await s.put(rec("slow"))
        assert s.degraded and loop.time() - started < 1.0  # the socket timeout (0.3 s), not the pause
        await until(lambda: not s.degraded)
        assert (await s.get("slow")) is not None
    finally:
        await s.aclose()


async def test_memory_only_without_a_redis_url() -> None:
    s = SessionStore("solo", None, max_ended=2)
    await s.start()
    for i in range(4):
        await s.put(rec(f"c{i}", "solo"))
        await s.put(s.records[f"c{i}"].changed(1.0, state="ended"))
    await s.put(rec("live", "solo"))
    assert not s.shared and s.fallbacks == 0
    assert [r.call_id for r in s.live()] == ["live"]
    assert list(s.records) == ["c2", "c3", "live"]  # ended records are bounded, live ones never evicted
    assert set(await s.instances()) == {"solo"}
    await s.aclose()


@pytest.mark.parametrize(
    "raw_value",
    [
        "",
        "[]",
        "null",
        '{"call_id": 1, "instance": "a", "transport": "t"}',
        '{"call_id": "c", "instance": "a", "transport": "t", "extra": 1}',
        '{"call_id": "c", "instance": "a", "transport": "t", "tools": {"x": 3}}',
        '{"call_id": "c", "instance": "a", "transport": "t", "started_at": "soon"}',
    ],
)
def test_decode_rejects_each_damaged_shape_with_a_reason(raw_value: str) -> None:
    from voiceflow.sessions import CorruptSession
    from voiceflow.sessions.record import decode

    with pytest.raises(CorruptSession) as info:
        decode(raw_value)
    assert str(info.value)
