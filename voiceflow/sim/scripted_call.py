"""A scripted phone call against a running server: the engine of ``voiceflow call`` and the latency benchmark.

The caller side is a ``TwilioMediaClient`` with a ``PhoneLine`` (continuous real-time
audio). The server side is watched through the call registry's ``on_open`` hook:
a ``CallWatcher`` observer records what the agent heard, said and did, and a
``LatencyTracker`` times each turn's stages.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field

from voiceflow.calls import CallRegistry, CallSession
from voiceflow.core.observers import PushEvent
from voiceflow.frames import (
    TextToSpeak,
    ToolCall,
    ToolResult,
    Transcript,
    UserStartedSpeaking,
    UserStoppedSpeaking,
)
from voiceflow.observability.latency import LatencyTracker, TurnLatency
from voiceflow.processors.audio.codecs import ulaw_decode
from voiceflow.sim.phone_line import PhoneLine, SpokenUtterance
from voiceflow.sim.twilio_client import AgentReply, TwilioMediaClient


@dataclass
class ServerTurn:
    heard: list[str] = field(default_factory=list)  # final transcripts of the caller's turn
    said: list[str] = field(default_factory=list)  # agent text sent to TTS
    #: replies withdrawn because the caller went on with the turn they answered (never or
    #: only partly heard: held at the reply gate, or cleared from the line)
    withdrawn: list[str] = field(default_factory=list)
    tools: list[str] = field(default_factory=list)  # "tool(args) -> result"


class CallWatcher:
    """Observer of one call's run: groups what was heard, said and done by agent reply."""

    def __init__(
        self,
        *,
        endpointer: str = "endpointer",
        dialogue: str = "dialogue",
        realtime: str = "realtime",
        offline: str = "offline",
    ) -> None:
        self.endpointer = endpointer
        self.dialogue = dialogue
        #: the speech-to-speech node hears and speaks itself (pipelines/realtime.py)
        self.hearers = (endpointer, realtime)
        #: the cloud pipeline's offline policy speaks while every LLM is down (pipelines/cloud.py)
        self.speakers = (dialogue, realtime, offline)
        self.pending = ServerTurn()
        self.latency = LatencyTracker(endpointer=self.hearers)
        self._calls: dict[str, ToolCall] = {}
        #: index in ``pending.said`` of the first reply to the latest end of turn
        self._reply_from = 0

    async def on_push(self, event: PushEvent) -> None:
        self.latency.observe(event)
        f = event.frame
        if event.upstream:
            return
        if isinstance(f, Transcript) and f.final and event.source in self.hearers:
            self.pending.heard.append(f.text)
        elif isinstance(f, UserStoppedSpeaking) and event.source in self.hearers:
            self._reply_from = len(self.pending.said)  # what follows answers this end of turn
        elif isinstance(f, UserStartedSpeaking) and f.continues and event.source in self.hearers:
            # the caller went on: the replies to the premature end are withdrawn
            self.pending.withdrawn += self.pending.said[self._reply_from :]
            del self.pending.said[self._reply_from :]
        elif isinstance(f, TextToSpeak) and event.source in self.speakers:
            self.pending.said.append(f.text)
        elif isinstance(f, ToolCall) and event.source in self.speakers:
            self._calls[f.call_id] = f
        elif isinstance(f, ToolResult) and event.source in self.speakers:
            call = self._calls.pop(f.call_id, None)
            args = ", ".join(f"{k}={v!r}" for k, v in (call.arguments if call else {}).items())
            outcome = f.error if f.error else _short(f.result)
            self.pending.tools.append(f"{f.tool}({args}) -> {f.status}: {outcome}")

    def take(self) -> ServerTurn:
        turn, self.pending = self.pending, ServerTurn()
        self._reply_from = 0
        return turn


def _short(value: object, limit: int = 120) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class CallWatchers:
    """A ``CallWatcher`` for every call a registry opens, by call id."""

    def __init__(self, registry: CallRegistry) -> None:
        self.by_call: dict[str, CallWatcher] = {}
        self._opened = asyncio.Event()
        registry.on_open.append(self._attach)

    def _attach(self, session: CallSession) -> None:
        watcher = CallWatcher()
        self.by_call[session.ctx.call_id] = watcher
        session.run.add_observer(watcher)
        self._opened.set()

    async def get(self, call_id: str, timeout: float = 10.0) -> CallWatcher:
        """The watcher of ``call_id``, waiting (briefly) for the server to open the call."""
        async with asyncio.timeout(timeout):
            while call_id not in self.by_call:
                self._opened.clear()
                await self._opened.wait()
        return self.by_call[call_id]


@dataclass
class TurnResult:
    line: str  # what the caller said (script text or file name)
    spoken: SpokenUtterance | None
    reply: AgentReply | None
    server: ServerTurn
    latency: TurnLatency | None
    clear_ms: float | None = None  # barge-in: caller speech onset -> clear received

    @property
    def client_v2v_ms(self) -> float | None:
        if self.spoken is None or self.reply is None:
            return None
        return (self.reply.started_at - self.spoken.voiced_end_at) * 1000.0


@dataclass
class CallResult:
    call_sid: str
    greeting: TurnResult | None
    turns: list[TurnResult]
    hung_up_by_agent: bool
    agent_audio: bytes  # PCM16 8 kHz, everything the caller heard
    media_at: list[float] = field(default_factory=list)  # arrival time of every agent media frame

    def pacing_lateness_ms(self, gap_s: float = 0.2) -> list[float]:
        """How late each agent frame arrived against a 20 ms schedule set by its burst's first frame.

        Frames are grouped into bursts (a reply) split by gaps over ``gap_s``; a frame that
        arrives early (the transport's small lead) counts as 0.
        """
        late: list[float] = []
        start = prev = None
        i = 0
        for at in self.media_at:
            if prev is None or at - prev > gap_s:
                start, i = at, 0
            assert start is not None
            late.append(max(0.0, (at - (start + i * 0.02)) * 1000.0))
            prev = at
            i += 1
        return late


async def run_scripted_call(
    url: str,
    lines: list[tuple[str, bytes, int]],
    watchers: CallWatchers,
    *,
    caller: str = "+15550100001",
    expect_greeting: bool = True,
    barge_in: bool = False,
    talk_over_after: float = 1.0,
    reply_timeout: float = 30.0,
    on_turn: Callable[[TurnResult], None] | None = None,
    twilio_auth_token: str | None = None,
) -> CallResult:
    """Play ``lines`` ((label, pcm16, rate) each), waiting for the agent's answer after each.

    With ``barge_in`` the caller does not wait for an answer to finish: ``talk_over_after``
    seconds into it the next line starts, and the turn records how long after the caller's
    speech onset the server sent ``clear``.
    """
    client_ = TwilioMediaClient(url, caller=caller, auth_token=twilio_auth_token)
    async with client_ as client, PhoneLine(client) as line:
        watcher = await watchers.get(client.call_sid)
        greeting = None
        if expect_greeting:
            hello = await client.wait_for_reply(timeout=reply_timeout)
            greeting = TurnResult("(call connected)", None, hello, watcher.take(), None)
            if on_turn:
                on_turn(greeting)
        turns: list[TurnResult] = []
        for i, (label, pcm, rate) in enumerate(lines):
            talk_over = barge_in and i < len(lines) - 1
            said_from = client.clock.now()
            spoken = await line.say(pcm, rate)
            clear_ms = None
            if barge_in and i > 0:
                with contextlib.suppress(TimeoutError, ConnectionError):
                    clear_at = await client.wait_for_clear(after=said_from, timeout=2.0)
                    clear_ms = (clear_at - spoken.voiced_start_at) * 1000.0
            reply: AgentReply | None = None
            try:
                if talk_over:
                    await client.wait_for_agent_audio(after=spoken.voiced_end_at, timeout=reply_timeout)
                    await asyncio.sleep(talk_over_after)
                    reply = _reply_so_far(client, spoken.voiced_end_at)
                else:
                    reply = await client.wait_for_reply(after=spoken.voiced_end_at, timeout=reply_timeout)
            except ConnectionError:  # the agent hung up: what it said before closing is its answer
                reply = _reply_so_far(client, spoken.voiced_end_at)
            except TimeoutError:
                reply = None
            latency = watcher.latency.turns[-1] if watcher.latency.turns else None
            result = TurnResult(label, spoken, reply, watcher.take(), latency, clear_ms)
            turns.append(result)
            if on_turn:
                on_turn(result)
            if client.closed:
                break
        with contextlib.suppress(TimeoutError):
            await client.wait_closed(timeout=3.0)
        hung_up = client.closed and not client.stopped
        audio = client.received_audio(heard_only=True)
        media_at = [m.at for m in client.media]
    return CallResult(client.call_sid, greeting, turns, hung_up, audio, media_at)


def _reply_so_far(client: TwilioMediaClient, since: float) -> AgentReply | None:
    frames = client.media_after(since)
    if not frames:
        return None
    return AgentReply(
        started_at=frames[0].at,
        ended_at=frames[-1].at,
        audio=ulaw_decode(b"".join(m.ulaw for m in frames)),
        frames=len(frames),
    )
