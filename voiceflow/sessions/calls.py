"""``CallSessions``: the call registry's session hooks, the per-call observer, the built-in commands.

Plugged into ``CallRegistry.sessions``: each call gets a record when it opens
(owner, caller, transport, start time), an observer that keeps its transcript
summary and tool-call states current, and a final state when it closes. Commands
for a call reach this instance through the ``CommandBus``: ``hangup`` ends the
call, ``transfer`` hands it to a human (the agent's own transfer path), and any
other action (``campaign`` for the campaign layer) is one ``register`` away.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Any

from voiceflow.calls import CallRegistry, CallSession
from voiceflow.config import SessionSettings
from voiceflow.core.observers import PushEvent
from voiceflow.frames import Intent, TextToSpeak, ToolCall, ToolResult, Transcript
from voiceflow.sessions.backend import RedisBackend
from voiceflow.sessions.bus import Command, CommandBus, CommandFailed, Handler
from voiceflow.sessions.record import SessionRecord
from voiceflow.sessions.store import InstanceInfo, SessionStore, default_instance_id

__all__ = ["CallSessions", "SessionObserver"]

log = logging.getLogger("voiceflow.sessions")


class CallSessions:
    """Session records and cross-instance commands for one instance's ``CallRegistry``."""

    def __init__(self, store: SessionStore, *, reply_timeout_s: float = 3.0) -> None:
        self.store = store
        self.bus = CommandBus(store, reply_timeout_s=reply_timeout_s, retry_s=store.retry_s)
        self.registry: CallRegistry | None = None
        self.bus.register("hangup", self._hangup)
        self.bus.register("transfer", self._transfer)

    @classmethod
    def from_settings(cls, settings: SessionSettings, **store_options: Any) -> CallSessions:
        """Redis when ``VOICEFLOW_REDIS_URL`` is set, this process's memory otherwise."""
        backend = RedisBackend(settings.redis_url) if settings.redis_url else None
        instance = settings.instance_id or default_instance_id()
        return cls(SessionStore(instance, backend, ttl_s=settings.ttl_s, **store_options))

    @property
    def instance(self) -> str:
        return self.store.instance

    def attach(self, registry: CallRegistry) -> None:
        self.registry = registry
        registry.sessions = self

    def register(self, action: str, handler: Handler) -> None:
        """Add a command (e.g. the campaign layer's ``campaign``) run on the instance owning the call."""
        self.bus.register(action, handler)

    async def start(self) -> None:
        await self.store.start()
        await self.bus.start()

    async def aclose(self) -> None:
        await self.bus.aclose()
        await self.store.aclose()

    # -- what the admin API and other instances ask ---------------------------------------------
    async def get(self, call_id: str) -> SessionRecord | None:
        return await self.store.get(call_id)

    async def send(self, call_id: str, action: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
        return await self.bus.send(call_id, action, args)

    async def cluster(self) -> dict[str, InstanceInfo]:
        """Live calls by instance: Redis heartbeats when shared, else what the cluster channel said."""
        if self.store.shared:
            return await self.store.instances()
        return self.bus.cluster()

    # -- the registry's hooks ------------------------------------------------------------------------
    async def call_opened(self, session: CallSession) -> None:
        ctx = session.ctx
        now = self.store.wall()
        record = SessionRecord(
            call_id=ctx.call_id,
            instance=self.instance,
            transport=ctx.transport,
            caller=ctx.caller,
            started_at=now,
            updated_at=now,
            metadata={k: v for k, v in ctx.metadata.items() if isinstance(v, str | int | float | bool)},
            version=1,
        )
        await self._put(record)
        self.store.announce()
        session.run.add_observer(SessionObserver(self, ctx.call_id))

    async def call_closed(self, session: CallSession, outcome: str) -> None:
        await self.update(session.ctx.call_id, state="failed" if outcome == "failed" else "ended")
        self.store.announce()

    async def update(self, call_id: str, **changes: Any) -> None:
        record = self.store.records.get(call_id)
        if record is None:
            return
        await self._put(record.changed(self.store.wall(), **changes))

    async def _put(self, record: SessionRecord) -> None:
        try:
            await self.store.put(record)
        except Exception:  # the store already falls back on redis errors; anything else stays here
            log.exception("session %s: record not stored", record.call_id)

    # -- built-in commands ----------------------------------------------------------------------
    def _live(self, command: Command) -> CallSession:
        session = None if self.registry is None else self.registry.calls.get(command.call_id)
        if session is None:
            raise CommandFailed(
                f"call {command.call_id!r} is not live on instance {self.instance!r}", status=410
            )
        return session

    async def _hangup(self, command: Command) -> dict[str, Any]:
        self._live(command)
        assert self.registry is not None
        log.info("call %s: hung up by %s", command.call_id, command.sender or "a local command")
        await self.registry.close(command.call_id, drain=False)
        return {"action": "hangup", "call_id": command.call_id}

    async def _transfer(self, command: Command) -> dict[str, Any]:
        session = self._live(command)
        department = str(command.args.get("department", "customer_service"))
        await self.update(command.call_id, state="transferring", metadata={"transfer_to": department})
        # the agent's own path: the dialogue hands over as when the caller asks for a human
        frame = session.run.make(
            Intent,
            intent="transfer_to_human",
            confidence=1.0,
            text="(operator transfer)",
            entities={"department": department},
            tier="admin",
        )
        await session.run.push(frame)
        return {"action": "transfer", "call_id": command.call_id, "department": department}


class SessionObserver:
    """Keeps one call's record current: recent transcript lines and each tool call's state."""

    def __init__(self, sessions: CallSessions, call_id: str) -> None:
        self.sessions = sessions
        self.call_id = call_id
        self._seen: deque[int] = deque(maxlen=64)  # a frame passing several processors counts once

    async def on_push(self, event: PushEvent) -> None:
        frame = event.frame
        if not isinstance(frame, Transcript | TextToSpeak | ToolCall | ToolResult) or frame.id in self._seen:
            return
        self._seen.append(frame.id)
        record = self.sessions.store.records.get(self.call_id)
        if record is None:
            return
        if isinstance(frame, Transcript) and frame.final and frame.text.strip():
            await self.sessions.update(self.call_id, summary=f"{record.summary}caller: {frame.text}\n")
        elif isinstance(frame, TextToSpeak) and frame.text.strip() and not event.upstream:
            await self.sessions.update(self.call_id, summary=f"{record.summary}agent: {frame.text}\n")
        elif isinstance(frame, ToolCall) and frame.call_id not in record.tools:
            await self.sessions.update(
                self.call_id, tools={**record.tools, frame.call_id: f"{frame.tool}:running"}
            )
        elif isinstance(frame, ToolResult):
            tools = {**record.tools, frame.call_id: f"{frame.tool}:{frame.status}"}
            await self.sessions.update(self.call_id, tools=tools)
