"""Calls we placed that are still going: what the line processors and the callbacks share.

A ``LiveCall`` is registered when ``calls.create`` returns its SID. The status
callbacks move it along and resolve ``ended`` (the dialer awaits it); the AMD
callback or the local detector sets ``answered_by`` (the line processors await
``decided``); the call's graph records its ``outcome``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CallEnd", "LiveCall", "LiveCalls", "OutboundScript"]


@dataclass(frozen=True, slots=True)
class OutboundScript:
    """What the agent says on an outbound call: the opening (to a person) and the voicemail."""

    opening: str
    voicemail: str
    name: str = ""
    fields: dict[str, Any] = field(default_factory=dict)

    def render(self, text: str) -> str:
        """``text`` with ``{name}`` and the contact's custom fields filled in (unknown keys stay)."""
        values = {"name": self.name or "there", **{k: str(v) for k, v in self.fields.items()}}
        out = text
        for key, value in values.items():
            out = out.replace("{" + key + "}", value)
        return out


@dataclass(frozen=True, slots=True)
class CallEnd:
    status: str  # completed | busy | no-answer | failed | canceled
    duration_s: int
    answered_by: str | None
    outcome: str | None


@dataclass
class LiveCall:
    sid: str
    to: str
    script: OutboundScript | None = None
    campaign_id: int | None = None
    contact_id: int | None = None
    answered_by: str | None = None
    amd_source: str | None = None  # "twilio" | "local"
    outcome: str | None = None  # conversation | voicemail | fax | opted_out | transferred | ...
    decided: asyncio.Event = field(default_factory=asyncio.Event, repr=False)
    ended: asyncio.Future[CallEnd] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future(), repr=False
    )

    def decide(self, answered_by: str, source: str) -> bool:
        """Record the first AMD answer (later ones are ignored); True when this one counted."""
        if self.decided.is_set():
            return False
        self.answered_by, self.amd_source = answered_by, source
        self.decided.set()
        return True


class LiveCalls:
    """Live outbound calls by SID, and a wait for a SID whose ``create`` has not returned yet."""

    def __init__(self) -> None:
        self.calls: dict[str, LiveCall] = {}
        self.dialing = 0
        self._changed = asyncio.Condition()

    def get(self, sid: str) -> LiveCall | None:
        return self.calls.get(sid)

    async def add(self, call: LiveCall) -> None:
        async with self._changed:
            self.calls[call.sid] = call
            self._changed.notify_all()

    async def dial_finished(self) -> None:
        """A ``create`` returned (or failed): wake callbacks waiting for their SID."""
        async with self._changed:
            self.dialing -= 1
            self._changed.notify_all()

    def pop(self, sid: str) -> LiveCall | None:
        return self.calls.pop(sid, None)

    async def wait_for(self, sid: str, timeout: float) -> LiveCall | None:
        """The call with ``sid``, waiting up to ``timeout`` when a dial is still in flight (Twilio may
        post the first callback before ``create`` has answered us)."""
        if sid in self.calls or not self.dialing:
            return self.calls.get(sid)
        try:
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(lambda: sid in self.calls or not self.dialing)
        except TimeoutError:
            pass
        return self.calls.get(sid)
