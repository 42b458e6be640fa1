"""The Redis side of the session store: key layout, short timeouts, one error type.

Keys (``vf:`` prefix):

- ``vf:session:<call id>``  a call's record (JSON), expiring ``ttl_s`` after its last write
- ``vf:live:<instance>``    set of the call ids live on an instance (expires with its heartbeat)
- ``vf:instance:<instance>`` the instance's heartbeat: ``{"boot", "calls", "at"}``, short TTL
- channels ``vf:inst:<instance>`` (commands and replies to one instance) and ``vf:cluster``
  (live-call counts, to everyone)

Every Redis failure (refused, timed out, OOM under ``maxmemory``, a wrong-type
reply) surfaces as ``StoreUnavailable``: the caller decides to go on from memory.
No retries here: a dead Redis is noticed within one socket timeout.
"""

from __future__ import annotations

import json
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError, ResponseError

from voiceflow.sessions.record import SessionRecord, encode

__all__ = ["CLUSTER_CHANNEL", "RedisBackend", "StoreUnavailable", "WrongType", "instance_channel"]

PREFIX = "vf:"
CLUSTER_CHANNEL = PREFIX + "cluster"


def instance_channel(instance: str) -> str:
    return f"{PREFIX}inst:{instance}"


def session_key(call_id: str) -> str:
    return f"{PREFIX}session:{call_id}"


def live_key(instance: str) -> str:
    return f"{PREFIX}live:{instance}"


def heartbeat_key(instance: str) -> str:
    return f"{PREFIX}instance:{instance}"


# KEYS: record, live set; ARGV: json, version, ttl, live (1/0), call id.
# An unreadable stored value, or a key of the wrong type, is replaced (the reader reports it).
# Nothing is deleted unless damaged: a script's first write decides whether a full Redis refuses it (OOM).
_WRITE = """
local t1 = redis.call('TYPE', KEYS[1]).ok
if t1 ~= 'string' and t1 ~= 'none' then redis.call('DEL', KEYS[1]) end
local t2 = redis.call('TYPE', KEYS[2]).ok
if t2 ~= 'set' and t2 ~= 'none' then redis.call('DEL', KEYS[2]) end
local cur = redis.call('GET', KEYS[1])
if cur then
  local ok, obj = pcall(cjson.decode, cur)
  if ok and type(obj) == 'table' and type(obj['version']) == 'number'
     and obj['version'] >= tonumber(ARGV[2]) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', tonumber(ARGV[3]))
if ARGV[4] == '1' then redis.call('SADD', KEYS[2], ARGV[5]) else redis.call('SREM', KEYS[2], ARGV[5]) end
return 1
"""


class StoreUnavailable(Exception):
    """Redis could not do what was asked (down, slow, full, or answering nonsense)."""


class WrongType(Exception):
    """One key holds a value of another type: that record is damaged, Redis itself is fine."""


class RedisBackend:
    """Thin async wrapper over redis-py: one client for commands, one for the subscription."""

    def __init__(self, url: str, *, timeout_s: float = 0.5) -> None:
        self.url = url
        options: dict[str, Any] = {
            "socket_connect_timeout": timeout_s,
            "retry": Retry(NoBackoff(), 0),
            "decode_responses": True,
        }
        self.client: aioredis.Redis = aioredis.Redis.from_url(url, socket_timeout=timeout_s, **options)
        # the subscriber blocks in reads by design: no read timeout, the same connect timeout
        self.sub_client: aioredis.Redis = aioredis.Redis.from_url(url, socket_timeout=None, **options)
        self._write = self.client.register_script(_WRITE)

    async def aclose(self) -> None:
        await self.client.aclose()
        await self.sub_client.aclose()

    async def _do(self, what: str, coro: Any) -> Any:
        try:
            return await coro
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"redis {what}: {type(exc).__name__}: {exc}") from exc

    async def ping(self) -> None:
        await self._do("ping", self.client.ping())

    async def write(self, record: SessionRecord, ttl_s: int) -> bool:
        """Store the record unless Redis holds a newer version; keep its owner's live set in step.

        One script, so the record and the live set change together. False when a
        newer (or the same) version was already stored: a resync never regresses a record.
        """
        result = await self._do(
            "write",
            self._write(
                keys=[session_key(record.call_id), live_key(record.instance)],
                args=[encode(record), record.version, ttl_s, int(record.live), record.call_id],
            ),
        )
        return bool(result)

    async def read(self, call_id: str) -> str | None:
        """The stored JSON; ``WrongType`` when the key holds something else than a string."""
        try:
            value = await self.client.get(session_key(call_id))
        except ResponseError as exc:
            if str(exc).startswith("WRONGTYPE"):
                raise WrongType(f"{session_key(call_id)} is not a string") from None
            raise StoreUnavailable(f"redis read: {exc}") from exc
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"redis read: {type(exc).__name__}: {exc}") from exc
        return None if value is None else str(value)

    async def live_ids(self, instance: str) -> set[str]:
        return set(await self._do("smembers", self.client.smembers(live_key(instance))))

    async def heartbeat(self, instance: str, boot: str, calls: int, at: float, ttl_s: float) -> None:
        """Announce this instance as alive (heartbeat key and its live set share the TTL)."""

        async def run() -> None:
            ms = max(1, int(ttl_s * 1000))
            payload = json.dumps({"boot": boot, "calls": calls, "at": at})
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.set(heartbeat_key(instance), payload, px=ms)
                pipe.pexpire(live_key(instance), ms)
                await pipe.execute()

        await self._do("heartbeat", run())

    async def forget_instance(self, instance: str) -> None:
        await self._do("forget", self.client.delete(heartbeat_key(instance)))

    async def instances(self) -> dict[str, str]:
        """Heartbeat payloads of the instances alive now, by name."""

        async def run() -> dict[str, str]:
            keys = [k async for k in self.client.scan_iter(match=heartbeat_key("*"), count=100)]
            if not keys:
                return {}
            values = await self.client.mget(keys)
            start = len(heartbeat_key(""))
            return {k[start:]: str(v) for k, v in zip(keys, values, strict=True) if v is not None}

        result: dict[str, str] = await self._do("instances", run())
        return result

    async def publish(self, channel: str, message: dict[str, Any]) -> int:
        """Send a message; the number of subscribers that received it."""
        return int(await self._do("publish", self.client.publish(channel, json.dumps(message))))

    def pubsub(self) -> aioredis.client.PubSub:
        return self.sub_client.pubsub()
