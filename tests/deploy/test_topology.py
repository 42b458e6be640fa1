"""The compose topology, natively: Debian's nginx with the shipped config in front of two
``voiceflow serve`` processes (echo pipeline) sharing a real redis-server.

nginx's upstream lines point at the two local ports and it listens on a free one;
everything else in deploy/nginx/nginx.conf is used as shipped. Clients pick their
source address on the loopback network (127.0.N.1), which is what ip_hash keys on.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
import pytest
import redis.asyncio as aioredis
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.deploy.conftest import NGINX_CONF, ROOT, need
from voiceflow.sessions.backend import session_key
from voiceflow.testing.processes import (
    NginxServer,
    RedisServer,
    VoiceflowServer,
    free_port,
    local_nginx_config,
)

TOKEN = "topology-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
RATE = 16000


@dataclass
class Topology:
    redis: RedisServer
    agents: dict[str, VoiceflowServer]
    nginx_port: int

    @property
    def front(self) -> str:
        return f"http://127.0.0.1:{self.nginx_port}"

    def ws_front(self) -> str:
        return f"ws://127.0.0.1:{self.nginx_port}/ws"


@pytest.fixture
def topology() -> Iterator[Topology]:
    need("nginx")
    need("redis-server")
    with RedisServer() as redis_server:
        env = {"VOICEFLOW_REDIS_URL": redis_server.url, "VOICEFLOW_ADMIN_TOKEN": TOKEN,
               "VOICEFLOW_SECRET": "one-secret-for-every-instance"}  # fmt: skip
        agents = {
            name: VoiceflowServer(pipeline="echo", env=env | {"VOICEFLOW_INSTANCE_ID": name}, cwd=ROOT)
            for name in ("a", "b")
        }
        try:
            for agent in agents.values():
                agent.start()
            port = free_port()
            with NginxServer(
                local_nginx_config(NGINX_CONF.read_text(), port, [a.port for a in agents.values()])
            ) as nginx:
                nginx.start(port)
                yield Topology(redis_server, agents, port)
        finally:
            for agent in agents.values():
                agent.__exit__()


def client(source: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(local_address=source), timeout=10)


async def health(url: str, source: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    async with client(source) as c:
        r = await c.get(f"{url}/healthz", headers=headers)
        r.raise_for_status()
        return dict(r.json())


async def sources_by_instance(topology: Topology) -> dict[str, str]:
    """One client source address that nginx pins to each instance (ip_hash on the first 3 octets)."""
    found: dict[str, str] = {}
    for n in range(1, 40):
        source = f"127.0.{n}.1"
        seen = {(await health(topology.front, source))["instance"] for _ in range(5)}
        assert len(seen) == 1, f"{source} was served by {seen}: not sticky"
        found.setdefault(seen.pop(), source)
        if len(found) == 2:
            return found
    raise AssertionError(f"ip_hash sent every address to {set(found)}")


@dataclass
class Caller:
    """A browser call over /ws from one source address."""

    ws: ClientConnection
    audio: list[bytes] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    reader: asyncio.Task[None] | None = None

    async def read(self) -> None:
        try:
            async for message in self.ws:
                if isinstance(message, bytes):
                    self.audio.append(message)
                else:
                    self.events.append(json.loads(message))
        except ConnectionClosed:
            pass

    @property
    def call_id(self) -> str:
        return str(next(e["call_id"] for e in self.events if e.get("type") == "started"))

    async def speak(self, seconds: float = 0.4) -> None:
        """A tone then silence, at real time (the echo pipeline answers each such turn)."""
        t = np.arange(int(RATE * seconds)) / RATE
        pcm = (np.sin(2 * np.pi * 440 * t) * 8000).astype("<i2").tobytes() + bytes(2 * int(RATE * 0.5))
        start = time.monotonic()
        for off in range(0, len(pcm), 640):
            await asyncio.sleep(max(0.0, start + off / (2 * RATE) - time.monotonic()))
            await self.ws.send(pcm[off : off + 640])


@pytest.fixture
async def calls() -> AsyncIterator[list[Caller]]:
    opened: list[Caller] = []
    yield opened
    for caller in opened:
        await caller.ws.close()
        if caller.reader is not None:
            caller.reader.cancel()
            await asyncio.gather(caller.reader, return_exceptions=True)


async def place_call(url: str, source: str, opened: list[Caller]) -> Caller:
    async with client(source) as c:  # the page's token, as a browser gets it
        token = (await c.get(f"{url.replace('ws://', 'http://').removesuffix('/ws')}/token")).json()["token"]
    ws = await connect(f"{url}?token={token}", local_addr=(source, 0))
    caller = Caller(ws)
    opened.append(caller)
    caller.reader = asyncio.create_task(caller.read())
    await ws.send(json.dumps({"type": "start", "caller": f"caller-{source}"}))
    await until(lambda: any(e.get("type") == "started" for e in caller.events))
    return caller


async def until(check: Any, timeout_s: float = 15.0) -> None:
    async with asyncio.timeout(timeout_s):
        while True:
            result = check()
            if await result if asyncio.iscoroutine(result) else result:
                return
            await asyncio.sleep(0.05)


async def admin(url: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
    async with client("127.0.0.1") as c:
        return await c.request(method, f"{url}{path}", headers=AUTH, **kwargs)


async def test_sticky_sessions_cross_instance_commands_and_an_instance_dying(
    topology: Topology, calls: list[Caller]
) -> None:
    a, b = topology.agents["a"], topology.agents["b"]
    sources = await sources_by_instance(topology)

    # the app believes X-Forwarded-For from nginx only
    assert (await health(topology.front, sources["a"]))["client"] == sources["a"]
    spoofed = await health(a.url, "127.0.33.1", headers={"X-Forwarded-For": "203.0.113.9"})
    assert spoofed["client"] == "127.0.33.1"

    # a call from a's client address lands on a; b reads its record from redis
    on_a = await place_call(topology.ws_front(), sources["a"], calls)
    record = (await admin(b.url, "GET", f"/admin/calls/{on_a.call_id}")).json()
    assert (
        record["instance"] == "a"
        and record["state"] == "live"
        and record["caller"] == f"caller-{sources['a']}"
    )

    # an admin hang-up sent to b reaches the call on a through pub/sub
    r = await admin(b.url, "POST", f"/admin/calls/{on_a.call_id}/hangup")
    assert r.status_code == 200, r.text
    assert r.json() == {"ok": True, "received_by": "b", "instance": "a", "action": "hangup",
                        "call_id": on_a.call_id}  # fmt: skip
    assert on_a.reader is not None
    await asyncio.wait_for(on_a.reader, 10)  # the caller's socket was closed by a
    assert (await admin(b.url, "GET", f"/admin/calls/{on_a.call_id}")).json()["state"] == "ended"

    # counts across instances
    on_b = await place_call(topology.ws_front(), sources["b"], calls)
    doomed = await place_call(topology.ws_front(), sources["a"], calls)
    await until(lambda: _cluster_counts(b.url, {"a": 1, "b": 1}))

    # kill a: its records stay readable, commands for its calls fail clearly, new calls go to b
    a.kill()
    record = (await admin(b.url, "GET", f"/admin/calls/{doomed.call_id}")).json()
    assert record["instance"] == "a"
    r = await admin(b.url, "POST", f"/admin/calls/{doomed.call_id}/hangup")
    assert r.status_code == 410 and "'a'" in r.json()["error"]
    assert (await health(topology.front, sources["a"]))["instance"] == "b"
    moved = await place_call(topology.ws_front(), sources["a"], calls)
    record = (await admin(b.url, "GET", f"/admin/calls/{moved.call_id}")).json()
    assert record["instance"] == "b" and record["state"] == "live"
    await moved.speak()
    await until(lambda: len(moved.audio) > 10)  # served, with audio back
    assert on_b.ws.close_code is None  # b's own call never noticed


async def _cluster_counts(url: str, expected: dict[str, int]) -> bool:
    body = (await admin(url, "GET", "/admin/cluster")).json()
    return {n: i["calls"] for n, i in body["instances"].items()} == expected


async def test_redis_dying_mid_call_the_call_goes_on_and_its_session_resyncs(
    topology: Topology, calls: list[Caller]
) -> None:
    sources = await sources_by_instance(topology)
    owner = topology.agents["a"]
    caller = await place_call(topology.ws_front(), sources["a"], calls)
    await caller.speak()
    await until(lambda: len(caller.audio) > 10)

    topology.redis.kill()
    heard = len(caller.audio)
    await caller.speak()  # the call goes on without redis
    await until(lambda: len(caller.audio) > heard + 10)
    await until(lambda: _redis_mode(owner.url, "memory"))
    during = await place_call(topology.ws_front(), sources["a"], calls)  # a new call while redis is down
    record = (await admin(owner.url, "GET", f"/admin/calls/{caller.call_id}")).json()
    assert record["summary"].count("caller:") == 2  # both turns, kept in memory

    topology.redis.start()  # same port, empty
    await until(lambda: _redis_mode(owner.url, "shared"))
    raw = aioredis.Redis.from_url(topology.redis.url, decode_responses=True)
    try:
        keys = sorted([k async for k in raw.scan_iter(match=session_key("*"))])
        assert keys == sorted(
            session_key(c) for c in (caller.call_id, during.call_id)
        )  # none lost or doubled
        stored = json.loads(await raw.get(session_key(caller.call_id)))
        assert stored["summary"].count("caller:") == 2 and stored["state"] == "live"
    finally:
        await raw.aclose()
    other = topology.agents["b"]
    await until(
        lambda: _redis_mode(other.url, "shared")
    )  # b noticed the outage too; it reconnects on its own
    assert (await admin(other.url, "GET", f"/admin/calls/{during.call_id}")).json()["instance"] == "a"


async def _redis_mode(url: str, mode: str) -> bool:
    return bool((await admin(url, "GET", "/admin/cluster")).json()["redis"] == mode)
