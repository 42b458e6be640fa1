"""Cross-instance commands over Redis pub/sub: a command for a call reaches the instance that owns it.

``send(call_id, action, args)`` reads the call's record, and if another instance
owns it publishes ``{"kind": "command", ...}`` on that instance's channel, addressed
to the owner's current boot, then waits (bounded) for its ``reply``. The owner runs
the handler registered for the action and replies on the sender's channel. The
cluster channel carries each instance's live-call count.

Nothing a peer publishes can break a call: a message that is not JSON, of an unknown
kind, missing fields, for a call this instance does not run, or addressed to an
earlier boot of this instance (a stale sender) is logged, counted and ignored.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from voiceflow.sessions.backend import CLUSTER_CHANNEL, StoreUnavailable, instance_channel
from voiceflow.sessions.store import InstanceInfo, SessionStore

__all__ = ["Command", "CommandBus", "CommandFailed", "Handler"]

log = logging.getLogger("voiceflow.sessions.bus")

MAX_MESSAGE_BYTES = 64 * 1024


class CommandFailed(Exception):
    """A command could not be delivered or its handler refused it; the message says why."""

    def __init__(self, message: str, *, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Command:
    call_id: str
    action: str
    args: dict[str, Any] = field(default_factory=dict)
    sender: str = ""


Handler = Callable[[Command], Awaitable[dict[str, Any]]]


class CommandBus:
    """Commands to the owning instance, replies back, and the cluster's live-call counts."""

    def __init__(self, store: SessionStore, *, reply_timeout_s: float = 3.0, retry_s: float = 0.5) -> None:
        self.store = store
        self.reply_timeout_s = reply_timeout_s
        self.retry_s = retry_s
        self.handlers: dict[str, Handler] = {}
        #: live-call counts heard on the cluster channel, by instance
        self.peers: dict[str, InstanceInfo] = {}
        self.ignored: Counter[str] = Counter()
        self.handled = 0
        self.subscribed = asyncio.Event()
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._task: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[None]] = set()
        self._closing = False

    def register(self, action: str, handler: Handler) -> None:
        self.handlers[action] = handler

    # -- lifecycle --------------------------------------------------------------------------
    async def start(self) -> None:
        if self.store.backend is not None and self._task is None:
            self._task = asyncio.create_task(self._listen(), name=f"bus:{self.store.instance}")

    async def aclose(self) -> None:
        self._closing = True  # as well as the cancel, which a racing read timeout may swallow (3.11)
        tasks = [t for t in (self._task, *self._running) if t is not None]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._task = None
        for fut in self._waiting.values():
            fut.cancel()

    # -- sending ------------------------------------------------------------------------------
    async def send(self, call_id: str, action: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run ``action`` on the call wherever it lives; the handler's result, or ``CommandFailed``."""
        command = Command(call_id, action, dict(args or {}), self.store.instance)
        record = await self.store.get(call_id)
        if record is None:
            raise CommandFailed(f"no session for call {call_id!r}", status=404)
        if not record.live:
            raise CommandFailed(f"call {call_id!r} is no longer live ({record.state})")
        if record.instance == self.store.instance:
            return await self._run(command)
        if not self.store.shared:
            raise CommandFailed(
                f"call {call_id!r} is on instance {record.instance!r} and redis is unreachable", status=503
            )
        owner = (await self.store.instances()).get(record.instance)
        if owner is None:
            raise CommandFailed(
                f"call {call_id!r} belongs to instance {record.instance!r}, which is not alive", status=410
            )
        assert self.store.backend is not None
        message_id = uuid.uuid4().hex
        reply: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[message_id] = reply
        message = {
            "v": 1,
            "kind": "command",
            "id": message_id,
            "call_id": call_id,
            "action": action,
            "args": command.args,
            "from": self.store.instance,
            "to_boot": owner.boot,
        }
        try:
            try:
                receivers = await self.store.backend.publish(instance_channel(record.instance), message)
            except StoreUnavailable as exc:
                raise CommandFailed(
                    f"could not reach instance {record.instance!r}: {exc}", status=503
                ) from None
            if receivers == 0:
                raise CommandFailed(f"instance {record.instance!r} is not listening", status=410)
            try:
                async with asyncio.timeout(self.reply_timeout_s):
                    answer = await reply
            except TimeoutError:
                raise CommandFailed(
                    f"instance {record.instance!r} did not answer within {self.reply_timeout_s:g} s",
                    status=504,
                ) from None
        finally:
            self._waiting.pop(message_id, None)
        if not answer.get("ok"):
            raise CommandFailed(str(answer.get("error", "refused")), status=int(answer.get("status", 409)))
        result = answer.get("result")
        return result if isinstance(result, dict) else {}

    async def _run(self, command: Command) -> dict[str, Any]:
        handler = self.handlers.get(command.action)
        if handler is None:
            raise CommandFailed(
                f"unknown action {command.action!r} (known: {', '.join(sorted(self.handlers))})", status=400
            )
        result = await handler(command)
        self.handled += 1
        return {"instance": self.store.instance, **result}

    def cluster(self) -> dict[str, InstanceInfo]:
        """Live-call counts by instance as heard on the cluster channel (this one counted now)."""
        now = self.store.wall()
        fresh = {n: i for n, i in self.peers.items() if now - i.at <= 3 * self.store.heartbeat_s}
        me = InstanceInfo(self.store.instance, self.store.boot, len(self.store.live()), now)
        return fresh | {me.name: me}

    # -- receiving ------------------------------------------------------------------------------
    async def _listen(self) -> None:
        backend = self.store.backend
        assert backend is not None
        while not self._closing:
            pubsub = backend.pubsub()
            try:
                channels = (instance_channel(self.store.instance), CLUSTER_CHANNEL)
                await pubsub.subscribe(*channels)
                confirmed = 0
                while not self._closing:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is None:
                        continue
                    if message.get("type") == "subscribe":
                        confirmed += 1  # Redis confirmed a channel: from now on nothing sent to it is missed
                        if confirmed == len(channels):
                            self.subscribed.set()
                    elif message.get("type") == "message":
                        self._dispatch(str(message.get("data", "")))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # redis went away: the store falls back; listen again later
                self.subscribed.clear()
                log.debug("bus: subscription lost (%s); retrying", exc)
                if not self._closing:
                    await asyncio.sleep(self.retry_s)
            finally:
                await asyncio.shield(_close_quietly(pubsub))

    def _dispatch(self, data: str) -> None:
        try:
            if len(data) > MAX_MESSAGE_BYTES:
                raise ValueError(f"{len(data)} bytes")
            message = json.loads(data)
            if not isinstance(message, dict):
                raise ValueError("not an object")
            kind = message.get("kind")
            if kind == "command":
                self._on_command(message)
            elif kind == "reply":
                self._on_reply(message)
            elif kind == "count":
                self._on_count(message)
            else:
                self._ignore("unknown kind", f"kind {kind!r}")
        except KeyError as exc:
            self._ignore("malformed", f"missing field {exc}: {data[:200]!r}")
        except (ValueError, TypeError) as exc:
            self._ignore("malformed", f"{exc}: {data[:200]!r}")

    def _ignore(self, why: str, detail: str) -> None:
        self.ignored[why] += 1
        log.warning("bus: ignored a message (%s): %s", why, detail)

    def _on_command(self, message: dict[str, Any]) -> None:
        sender, message_id, to_boot = str(message["from"]), str(message["id"]), message["to_boot"]
        args = message.get("args", {})
        if not isinstance(args, dict):
            raise ValueError("args is not an object")
        command = Command(str(message["call_id"]), str(message["action"]), args, sender)
        if to_boot != self.store.boot:
            self._ignore("stale", f"command for boot {to_boot!r}, this is {self.store.boot!r}")
            return
        task = asyncio.create_task(self._answer(command, message_id), name=f"command:{message_id[:8]}")
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _answer(self, command: Command, message_id: str) -> None:
        reply: dict[str, Any] = {"v": 1, "kind": "reply", "id": message_id, "from": self.store.instance}
        try:
            reply |= {"ok": True, "result": await self._run(command)}
        except CommandFailed as exc:
            reply |= {"ok": False, "error": str(exc), "status": exc.status}
        except Exception as exc:
            log.exception("command %s on call %s failed", command.action, command.call_id)
            reply |= {"ok": False, "error": f"{command.action} failed: {type(exc).__name__}", "status": 500}
        assert self.store.backend is not None
        try:
            await self.store.backend.publish(instance_channel(command.sender), reply)
        except StoreUnavailable as exc:
            log.warning("command %s: reply to %s not sent (%s)", message_id, command.sender, exc)

    def _on_reply(self, message: dict[str, Any]) -> None:
        waiter = self._waiting.get(str(message["id"]))
        if waiter is None:
            self._ignore("late reply", f"no command {message['id']!r} is waiting")
        elif not waiter.done():
            waiter.set_result(message)

    def _on_count(self, message: dict[str, Any]) -> None:
        name = str(message["instance"])
        if name == self.store.instance:
            return
        info = InstanceInfo(name, str(message["boot"]), int(message["calls"]), float(message["at"]))
        known = self.peers.get(name)
        if known is not None and known.boot == info.boot and known.at > info.at:
            self._ignore("stale", f"count from {name} older than the last one")
            return
        self.peers[name] = info


async def _close_quietly(pubsub: Any) -> None:
    try:
        await pubsub.aclose()
    except Exception:  # closing a broken connection may fail; nothing is left to clean
        log.debug("bus: closing the subscription failed", exc_info=True)
