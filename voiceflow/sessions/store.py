"""The session store: Redis when it answers, this process's memory when it does not.

Every record this instance writes is kept in memory first (its live calls always,
ended ones until Redis has them), then written to Redis. When a write, read or
heartbeat fails the store switches to memory at once (logged once, counted in
``voiceflow_session_store_fallback_total``) and stops waiting on Redis; a
background loop pings it every ``retry_s`` and, when it answers, writes back
everything written meanwhile plus every live record (a restarted, empty Redis gets
them all again). Writes are keyed by call id and only replace an older version, so
a resync neither loses nor duplicates a session, nor regresses a newer one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from voiceflow.sessions.backend import CLUSTER_CHANNEL, RedisBackend, StoreUnavailable, WrongType
from voiceflow.sessions.metrics import count_fallback
from voiceflow.sessions.record import CorruptSession, SessionRecord, decode

__all__ = ["InstanceInfo", "SessionStore", "default_instance_id"]

log = logging.getLogger("voiceflow.sessions")


def default_instance_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass(frozen=True, slots=True)
class InstanceInfo:
    name: str
    boot: str  # a new value each time a process starts under that name
    calls: int
    at: float


class SessionStore:
    """Session records of this instance's calls, in Redis with a memory fallback (see module doc)."""

    def __init__(
        self,
        instance: str,
        backend: RedisBackend | None = None,
        *,
        ttl_s: int = 86400,
        heartbeat_s: float = 2.0,
        retry_s: float = 0.5,
        max_ended: int = 1000,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.instance = instance
        self.boot = uuid.uuid4().hex[:12]
        self.backend = backend
        self.ttl_s = ttl_s
        self.heartbeat_s = heartbeat_s
        self.retry_s = retry_s
        self.max_ended = max_ended
        self.wall = wall
        #: this instance's records: every live one, recent ended ones (bounded)
        self.records: OrderedDict[str, SessionRecord] = OrderedDict()
        #: ids written while Redis was unreachable, to write back when it returns
        self.pending: set[str] = set()
        self.degraded = backend is None
        self.fallbacks = 0
        self.resyncs = 0
        self.corrupt = 0
        self.lost = 0  # unsynced ended records evicted from memory during a long outage
        self.last_fallback_at: float | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    @property
    def shared(self) -> bool:
        """True when records reach Redis now (other instances can read them)."""
        return self.backend is not None and not self.degraded

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        if self.backend is None or self._task is not None:
            return
        try:
            await self._heartbeat()
            self.degraded = False
        except StoreUnavailable as exc:
            self._fall_back(exc)
        self._task = asyncio.create_task(self._maintain(), name=f"sessions:{self.instance}")

    async def aclose(self) -> None:
        # the flag as well as the cancel: on Python 3.11 a cancel that races the loop's own
        # timeout can be swallowed (the timeout wins), and the loop must still stop
        self._closing = True
        self._wake.set()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self.backend is not None:
            if self.shared:
                try:
                    await self.backend.forget_instance(self.instance)
                except StoreUnavailable:
                    pass
            await self.backend.aclose()

    # -- records ----------------------------------------------------------------------------------
    async def put(self, record: SessionRecord) -> None:
        """Keep ``record`` in memory and write it to Redis (or remember to, when it is down)."""
        self.records[record.call_id] = record
        self.records.move_to_end(record.call_id)
        self._evict()
        if self.backend is None:
            return
        if self.degraded:
            self.pending.add(record.call_id)
            return
        try:
            await self.backend.write(record, self.ttl_s)
        except StoreUnavailable as exc:
            self.pending.add(record.call_id)
            self._fall_back(exc)

    async def get(self, call_id: str) -> SessionRecord | None:
        """The newest record of a call: Redis's, or this instance's own when Redis is down or damaged."""
        mine = self.records.get(call_id)
        if not self.shared:
            return mine
        assert self.backend is not None
        try:
            raw = await self.backend.read(call_id)
            if raw is None:
                return mine
            stored = decode(raw)
        except StoreUnavailable as exc:
            self._fall_back(exc)
            return mine
        except (CorruptSession, WrongType) as exc:
            self.corrupt += 1
            log.warning(
                "session %s: stored record is unreadable (%s); using this instance's copy", call_id, exc
            )
            return mine
        if mine is not None and mine.version > stored.version:
            return mine
        return stored

    def live(self) -> list[SessionRecord]:
        return [r for r in self.records.values() if r.live]

    async def instances(self) -> dict[str, InstanceInfo]:
        """Instances alive now by their heartbeats (only this one when Redis is down)."""
        me = {self.instance: InstanceInfo(self.instance, self.boot, len(self.live()), self.wall())}
        if not self.shared:
            return me
        assert self.backend is not None
        try:
            beats = await self.backend.instances()
        except StoreUnavailable as exc:
            self._fall_back(exc)
            return me
        found: dict[str, InstanceInfo] = {}
        for name, payload in beats.items():
            info = _parse_heartbeat(name, payload)
            if info is None:
                log.warning("instance %s: unreadable heartbeat %r ignored", name, payload[:200])
                continue
            found[name] = info
        return found | me

    # -- fallback and resync ------------------------------------------------------------------------
    def _fall_back(self, exc: Exception) -> None:
        if self.degraded:
            return
        self.degraded = True
        self.fallbacks += 1
        self.last_fallback_at = self.wall()
        count_fallback()
        log.warning("session store: redis unreachable (%s); going on from memory", exc)
        self._wake.set()

    async def _maintain(self) -> None:
        while not self._closing:
            delay = self.retry_s if self.degraded else self.heartbeat_s
            try:
                async with asyncio.timeout(delay):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()
            if self._closing:
                return
            try:
                if self.degraded:
                    await self._resync()
                else:
                    await self._heartbeat()
            except StoreUnavailable as exc:
                self._fall_back(exc)
            except Exception:  # the loop must outlive any surprise; the calls go on regardless
                log.exception("session store maintenance failed")

    async def _resync(self) -> None:
        """Redis answers again: write back what changed meanwhile and every live record."""
        assert self.backend is not None
        await self.backend.ping()
        ids = self.pending | {r.call_id for r in self.live()}
        written = 0
        for call_id in list(ids):
            record = self.records.get(call_id)
            if record is not None:
                await self.backend.write(record, self.ttl_s)
                written += 1
            self.pending.discard(call_id)
        await self._heartbeat()
        self.degraded = False
        self.resyncs += 1
        log.warning("session store: redis is back; %d session records written back", written)

    async def _heartbeat(self) -> None:
        assert self.backend is not None
        calls, at = len(self.live()), self.wall()
        await self.backend.heartbeat(self.instance, self.boot, calls, at, ttl_s=3 * self.heartbeat_s)
        await self.backend.publish(
            CLUSTER_CHANNEL,
            {"v": 1, "kind": "count", "instance": self.instance, "boot": self.boot, "calls": calls, "at": at},
        )

    def announce(self) -> None:
        """The live-call count changed: heartbeat now rather than at the next tick."""
        if not self.degraded:
            self._wake.set()

    def _evict(self) -> None:
        ended = [cid for cid, r in self.records.items() if not r.live]
        for call_id in ended[: max(0, len(ended) - self.max_ended)]:
            if call_id in self.pending:
                self.pending.discard(call_id)
                self.lost += 1
                log.error("session %s: dropped from memory before redis came back", call_id)
            del self.records[call_id]


def _parse_heartbeat(name: str, payload: str) -> InstanceInfo | None:
    try:
        data = json.loads(payload)
        return InstanceInfo(name, str(data["boot"]), int(data["calls"]), float(data["at"]))
    except (ValueError, KeyError, TypeError):
        return None
