"""The fake Twilio's record of one call (what tests read), and what the call player needs of the fake."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Protocol

from voiceflow.core.clock import Clock
from voiceflow.testing.fakes.twilio_callee import Callee, Played

__all__ = ["Carrier", "DialRecord", "FakeCall", "PostedCallback"]


@dataclass
class DialRecord:
    """One ``<Dial>``: who was rung, what they heard first (the whisper), how it ended."""

    number: str
    caller_id: str | None
    whisper: str  # the TwiML the human agent heard before being connected ("" without url)
    answered: bool
    dial_status: str
    at: float


@dataclass
class PostedCallback:
    kind: str  # "status" | "amd" | "dial_action" | "whisper" | "url"
    url: str
    params: dict[str, str]
    status: int  # our server's HTTP answer
    body: str
    at: float


@dataclass
class FakeCall:
    sid: str
    to: str
    from_: str
    params: dict[str, list[str]]
    callee: Callee
    created_at: float  # on the fake's clock
    status: str = "queued"
    answered_by: str | None = None
    started: float | None = None  # monotonic seconds, for the duration
    ended: float | None = None
    duration: int = 0
    callbacks: list[PostedCallback] = field(default_factory=list)
    dials: list[DialRecord] = field(default_factory=list)
    said: list[str] = field(default_factory=list)  # <Say> texts played to the callee
    stream_parameters: list[dict[str, str]] = field(default_factory=list)
    played: Played = field(default_factory=Played)
    hung_up_by: str | None = None  # "callee" | "api" | "twiml"
    sequence: int = 0
    # what the player listens to
    redirect: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue, repr=False)
    #: status callbacks go out in order without holding the call up (Twilio does not wait for them)
    posting: asyncio.Task[None] | None = field(default=None, repr=False)
    done: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    def one(self, name: str) -> str | None:
        values = self.params.get(name)
        return values[-1] if values else None

    @property
    def recording(self) -> bytes:
        return self.played.recording

    def callbacks_of(self, kind: str) -> list[PostedCallback]:
        return [c for c in self.callbacks if c.kind == kind]


class Carrier(Protocol):
    """The fake Twilio as the call player sees it."""

    account_sid: str
    auth_token: str  # signs the Media Streams handshake, as Twilio does
    clock: Clock
    unanswered_numbers: set[str]

    async def post(self, call: FakeCall, kind: str, url: str, params: dict[str, str]) -> PostedCallback: ...

    def call_params(self, call: FakeCall) -> dict[str, str]: ...

    def finished(self, call: FakeCall) -> None: ...
