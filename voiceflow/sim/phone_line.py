"""A caller's phone line: continuous 20 ms mu-law frames at real time, speech when there is some.

A real line never goes quiet on the wire: between utterances it carries
silence, and that silence is what lets the agent's VAD and endpointer see the
end of a turn. ``PhoneLine`` runs on top of ``TwilioMediaClient`` and reports,
for each utterance, when its first frame and its last *voiced* frame left.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from dataclasses import dataclass

import numpy as np
from websockets.exceptions import ConnectionClosed

from voiceflow.core.clock import Clock, MonotonicClock
from voiceflow.processors.audio.codecs import ulaw_encode
from voiceflow.processors.audio.resample import StreamResampler
from voiceflow.sim.twilio_client import FRAME_BYTES, FRAME_S, RATE, ULAW_SILENCE, TwilioMediaClient

__all__ = ["PhoneLine", "SpokenUtterance", "voiced_span"]


@dataclass
class SpokenUtterance:
    started_at: float  # first frame of the utterance sent
    voiced_start_at: float  # first voiced frame sent (speech onset on the wire)
    voiced_end_at: float  # last voiced frame sent
    ended_at: float  # last frame of the utterance sent


def voiced_span(pcm16_8k: bytes, *, threshold_dbfs: float = -40.0) -> tuple[int, int]:
    """Indexes of the first and last 20 ms frame whose level reaches ``threshold_dbfs``."""
    x = np.frombuffer(pcm16_8k, dtype="<i2").astype(np.float32) / 32768.0
    n = len(x) // FRAME_BYTES
    if n == 0:
        return 0, 0
    frames = x[: n * FRAME_BYTES].reshape(n, FRAME_BYTES)
    level = 10 * np.log10(np.mean(frames * frames, axis=1) + 1e-12)
    voiced = np.flatnonzero(level >= threshold_dbfs)
    if voiced.size == 0:
        return 0, n - 1
    return int(voiced[0]), int(voiced[-1])


@dataclass
class _Pending:
    frames: list[bytes]
    first_voiced: int
    last_voiced: int
    done: asyncio.Future[SpokenUtterance]


class PhoneLine:
    """Streams the caller's side of a call at real time (see module doc)."""

    def __init__(self, client: TwilioMediaClient, clock: Clock | None = None) -> None:
        self.client = client
        self.clock = clock or MonotonicClock()
        self._queue: deque[_Pending] = deque()
        self._task: asyncio.Task[None] | None = None
        self._current: _Pending | None = None
        self.frames_sent = 0

    async def __aenter__(self) -> PhoneLine:
        self._task = asyncio.create_task(self._run(), name="phone-line")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError, ConnectionClosed):
                await self._task
        for p in self._queue:
            p.done.cancel()

    async def _run(self) -> None:
        try:
            await self._stream()
        except (ConnectionError, ConnectionClosed) as exc:
            # the far end hung up: every utterance still waiting learns it at once
            for p in [*self._queue, *([self._current] if self._current else [])]:
                if not p.done.done():
                    p.done.set_exception(ConnectionError(f"the line was closed: {exc}"))
            self._queue.clear()
            raise

    def say(self, pcm16: bytes, sample_rate: int) -> asyncio.Future[SpokenUtterance]:
        """Queue an utterance; the future resolves once its last frame has been sent."""
        pcm8k = StreamResampler(sample_rate, RATE).process(pcm16, last=True)
        ulaw = ulaw_encode(pcm8k)
        if len(ulaw) % FRAME_BYTES:
            ulaw += ULAW_SILENCE * (FRAME_BYTES - len(ulaw) % FRAME_BYTES)
        frames = [ulaw[i : i + FRAME_BYTES] for i in range(0, len(ulaw), FRAME_BYTES)]
        first, last = voiced_span(pcm8k)
        done: asyncio.Future[SpokenUtterance] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(frames, first, last, done))
        return done

    async def _stream(self) -> None:
        t0 = self.clock.now()
        i = 0
        current: _Pending | None = None
        pos = 0
        marks: dict[str, float] = {}
        while True:
            await self.clock.sleep(t0 + i * FRAME_S - self.clock.now())
            if current is None and self._queue:
                current, pos, marks = self._queue.popleft(), 0, {}
                self._current = current
            if current is None:
                await self.client.send_media(ULAW_SILENCE * FRAME_BYTES)
            else:
                await self.client.send_media(current.frames[pos])
                now = self.clock.now()
                if pos == 0:
                    marks["start"] = now
                if pos == current.first_voiced:
                    marks["voiced_start"] = now
                if pos == current.last_voiced:
                    marks["voiced_end"] = now
                pos += 1
                if pos == len(current.frames):
                    if not current.done.done():
                        current.done.set_result(
                            SpokenUtterance(marks["start"], marks["voiced_start"], marks["voiced_end"], now)
                        )
                    current = self._current = None
            i += 1
            self.frames_sent += 1
