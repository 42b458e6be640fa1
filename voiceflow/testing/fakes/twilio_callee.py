"""The people and machines the fake Twilio calls: what each does once the call is answered.

A ``Callee`` is attached to a number (``FakeTwilio.callees[number]``). ``busy``,
``no_answer`` and ``failed`` never answer. The others answer and, on the
Media Stream our server accepted, behave like the real thing (audio paced at
real time, 8 kHz mu-law through ``TwilioMediaClient``):

- ``human``: says its first line on answer, then each next step after the
  agent's reply (a ``str`` step is keys pressed, ``bytes`` is speech), then
  waits ``linger_s`` for the agent to hang up before hanging up itself;
- ``voicemail``: plays its greeting, then a beep, then records whatever the
  agent plays after the beep (``FakeCall.recording``) until the line closes;
- ``fax``: answers with the CED tone (2100 Hz), over and over.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Literal

import numpy as np
from websockets.exceptions import ConnectionClosed

from voiceflow.sim.phone_line import PhoneLine
from voiceflow.sim.twilio_client import TwilioMediaClient

__all__ = ["ANSWERING", "Callee", "CalleeKind", "fax_tone", "play_callee", "tone"]

CalleeKind = Literal["human", "voicemail", "fax", "busy", "no_answer", "failed"]
ANSWERING = frozenset({"human", "voicemail", "fax"})
RATE = 16000


def tone(freq: float, seconds: float, *, rate: int = RATE, level: float = 0.3) -> bytes:
    """A pure sine tone as PCM16 (a voicemail beep, a fax tone)."""
    t = np.arange(int(seconds * rate)) / rate
    return (np.sin(2 * np.pi * freq * t) * level * 32767).astype("<i2").tobytes()


def fax_tone(seconds: float = 3.0, *, rate: int = RATE) -> bytes:
    """The answering fax's CED tone: 2100 Hz."""
    return tone(2100.0, seconds, rate=rate)


@dataclass
class Callee:
    kind: CalleeKind = "human"
    #: human: PCM16 speech (at ``rate``) or DTMF keys (``str``), one step per agent reply
    script: tuple[bytes | str, ...] = ()
    #: voicemail greeting (PCM16 at ``rate``)
    greeting: bytes = b""
    beep_hz: float = 1000.0
    beep_s: float = 0.5
    rate: int = RATE
    ring_s: float = 0.05
    #: a human who lets the agent speak first (an inbound caller hearing the greeting)
    listens_first: bool = False
    #: seconds a human waits for the agent's reply before going on anyway
    reply_timeout_s: float = 12.0
    #: after its script, how long a human stays on the line for the agent to hang up
    linger_s: float = 8.0
    #: a voicemail records at most this long after the beep
    record_s: float = 25.0
    #: fax: how long it keeps sending its tone
    max_s: float = 30.0

    @property
    def answers(self) -> bool:
        return self.kind in ANSWERING

    @property
    def first_line_s(self) -> float:
        first = self.script[0] if self.script else b""
        return len(first) / (2 * self.rate) if isinstance(first, bytes) else 0.0

    @property
    def greeting_s(self) -> float:
        return len(self.greeting) / (2 * self.rate) + self.beep_s


@dataclass
class Played:
    """What the callee did and heard."""

    hung_up: bool = False  # the callee ended the call (not the agent)
    recording: bytes = b""  # voicemail: agent audio after the beep, PCM16 8 kHz
    heard: bytes = b""  # everything the agent played, PCM16 8 kHz (not what a clear dropped unplayed)
    steps_done: int = 0


async def play_callee(callee: Callee, client: TwilioMediaClient, played: Played) -> None:
    """Behave as ``callee`` on an open stream until the line closes (or the callee hangs up).

    The line carries audio all the time, silence between utterances, as a real one does
    (``PhoneLine``): that silence is what lets the agent's VAD see the end of a turn."""
    try:
        async with PhoneLine(client) as line:
            if callee.kind == "human":
                await _human(callee, client, line, played)
            elif callee.kind == "voicemail":
                await _voicemail(callee, client, line, played)
            else:
                await _fax(callee, client, line)
    except (ConnectionError, OSError, ConnectionClosed):
        pass  # the server closed the line
    finally:
        played.heard = client.received_audio(heard_only=True)
    if played.hung_up and not client.closed:
        with contextlib.suppress(Exception):
            await client.stop()


async def _human(callee: Callee, client: TwilioMediaClient, line: PhoneLine, played: Played) -> None:
    last = client.clock.now()
    for i, step in enumerate(callee.script):
        if i > 0 or callee.listens_first:
            with contextlib.suppress(TimeoutError):
                await client.wait_for_reply(after=last, timeout=callee.reply_timeout_s)
        if client.closed:
            return
        if isinstance(step, str):
            for key in step:
                await client.send_dtmf(key)
            last = client.clock.now()
        else:
            last = (await line.say(step, callee.rate)).voiced_end_at
        played.steps_done += 1
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(client.wait_closed(), callee.linger_s)
    played.hung_up = not client.closed


async def _voicemail(callee: Callee, client: TwilioMediaClient, line: PhoneLine, played: Played) -> None:
    await line.say(callee.greeting, callee.rate)
    beep_end = (await line.say(tone(callee.beep_hz, callee.beep_s, rate=callee.rate), callee.rate)).ended_at
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(client.wait_closed(), callee.record_s)
    finally:
        played.recording = client.received_audio(since=beep_end)
    played.hung_up = not client.closed


async def _fax(callee: Callee, client: TwilioMediaClient, line: PhoneLine) -> None:
    start = client.clock.now()
    burst = fax_tone(1.0, rate=callee.rate)
    while not client.closed and client.clock.now() - start < callee.max_s:
        await line.say(burst, callee.rate)
