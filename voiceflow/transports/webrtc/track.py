"""The agent's outbound WebRTC audio track: paced 20 ms frames, silence when idle, playout events.

aiortc's RTP sender calls ``recv()`` in a loop and sends whatever it returns at
once, so the track itself is the real-time clock of the outbound stream: each
call waits until its frame's due time (start + pts / rate) before taking audio
from the buffer. What ``recv`` hands out is what the peer gets; the playout
events it records (started, progress, finished, stopped) therefore follow the
played position, not what the pipeline buffered. ``clear`` (barge-in) drops the
buffer at once; at most the frame already handed out is heard.
"""

from __future__ import annotations

import asyncio
import fractions
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame

from voiceflow.core.clock import Clock, MonotonicClock

__all__ = ["OUTBOUND_RATE", "OutboundAudioTrack", "PlayoutEvent"]

#: Opus runs at 48 kHz; sending at that rate spares aiortc a resampling step
OUTBOUND_RATE = 48000

#: started/stopped bound a speaking span; began/progress/finished/interrupted follow one utterance
EventKind = Literal["started", "began", "progress", "finished", "interrupted", "stopped"]


@dataclass(frozen=True, slots=True)
class PlayoutEvent:
    """Something the peer was handed: ``played_ms`` of ``utterance_id`` at clock time ``at``."""

    kind: EventKind
    utterance_id: int
    played_ms: float
    at: float


class _Segment:
    """Buffered audio of one utterance (consecutive chunks of one utterance share a segment)."""

    __slots__ = ("data", "offset", "utterance_id")

    def __init__(self, utterance_id: int, data: bytes) -> None:
        self.utterance_id = utterance_id
        self.data = bytearray(data)
        self.offset = 0

    @property
    def remaining(self) -> int:
        return len(self.data) - self.offset


class OutboundAudioTrack(MediaStreamTrack):
    """A mono PCM16 track fed by ``enqueue``; ``recv`` is paced by ``clock`` and never starves the sender."""

    kind = "audio"

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        sample_rate: int = OUTBOUND_RATE,
        frame_ms: int = 20,
        max_buffer_s: float = 60.0,
        stop_after_ms: float = 200.0,
        report_every_ms: float = 250.0,
        max_events: int = 1024,
        max_lateness_s: float = 0.2,
    ) -> None:
        super().__init__()
        self.clock: Clock = clock or MonotonicClock()
        self.sample_rate = sample_rate
        self.frame_samples = sample_rate * frame_ms // 1000
        self.frame_bytes = self.frame_samples * 2
        self.frame_ms = frame_ms
        self.time_base = fractions.Fraction(1, sample_rate)
        self.max_buffer_bytes = int(max_buffer_s * sample_rate) * 2
        self.stop_after_frames = max(1, round(stop_after_ms / frame_ms))
        self.report_every_ms = report_every_ms
        self.max_lateness_s = max_lateness_s
        #: frames handed out (audio or silence), and how many carried agent audio
        self.frames_sent = 0
        self.audio_frames_sent = 0
        self._segments: deque[_Segment] = deque()
        self._buffered = 0
        self._room = asyncio.Event()
        self._room.set()
        self._playout: deque[PlayoutEvent] = deque(maxlen=max_events)
        self._event_ready = asyncio.Event()
        self._start: float | None = None
        self._pts = 0
        self._speaking = False
        self._idle_frames = 0
        self._current: int | None = None
        self._played: dict[int, int] = {}  # utterance id -> samples handed out (current one only)
        self._reported_ms = 0.0
        #: called when the buffer runs dry mid-speech, so a producer can hand over held audio
        #: (the resampler's filter tail) before silence is sent
        self.on_underrun: Callable[[], None] | None = None

    # -- feeding --------------------------------------------------------------------------------
    @property
    def buffered_ms(self) -> float:
        return self._buffered / 2 / self.sample_rate * 1000.0

    @property
    def speaking(self) -> bool:
        return self._speaking

    def enqueue(self, pcm16: bytes, utterance_id: int) -> None:
        """Append mono PCM16 at ``sample_rate`` for ``utterance_id`` (an odd trailing byte is dropped)."""
        if len(pcm16) % 2:
            pcm16 = pcm16[:-1]
        if not pcm16:
            return
        tail = self._segments[-1] if self._segments else None
        if tail is not None and tail.utterance_id == utterance_id:
            tail.data += pcm16
        else:
            self._segments.append(_Segment(utterance_id, pcm16))
        self._buffered += len(pcm16)
        if self._buffered >= self.max_buffer_bytes:
            self._room.clear()

    async def wait_room(self) -> None:
        """Wait until the buffer is below its bound (back-pressure on a runaway producer)."""
        await self._room.wait()

    def clear(self) -> None:
        """Barge-in: drop everything buffered now; the current utterance ends where the peer is."""
        self._segments.clear()
        self._buffered = 0
        self._room.set()
        if self._speaking and self._current is not None:
            self._emit("interrupted", self._current)
            self._emit("stopped", self._current)
        self._speaking = False
        self._idle_frames = 0
        self._current = None
        self._played.clear()

    # -- playout events -------------------------------------------------------------------------
    def _emit(self, kind: EventKind, utterance_id: int) -> None:
        played = self._played.get(utterance_id, 0) / self.sample_rate * 1000.0
        self._playout.append(PlayoutEvent(kind, utterance_id, played, self.clock.now()))
        self._event_ready.set()

    async def next_events(self) -> list[PlayoutEvent]:
        """Wait for and take the playout events recorded since the last call, oldest first."""
        while not self._playout:
            self._event_ready.clear()
            await self._event_ready.wait()
        out = list(self._playout)
        self._playout.clear()
        return out

    # -- the sender side --------------------------------------------------------------------------
    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        clock = self.clock
        if self._start is None:
            self._start = clock.now()
        else:
            self._pts += self.frame_samples
            wait = self._start + self._pts / self.sample_rate - clock.now()
            if wait > 0:
                await clock.sleep(wait)
            elif wait < -self.max_lateness_s:
                # the loop stalled: carry on from now instead of bursting the backlog at the peer
                self._start -= wait
        payload = self._take()
        self.frames_sent += 1
        samples = np.frombuffer(payload, dtype="<i2").reshape(1, -1)
        frame = AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = self.sample_rate
        frame.pts = self._pts
        frame.time_base = self.time_base
        return frame

    def _take(self) -> bytes:
        """The next frame's bytes: buffered audio padded with silence, with its playout events."""
        out = bytearray()
        need = self.frame_bytes
        for attempt in range(2):
            while need and self._segments:
                seg = self._segments[0]
                n = min(need, seg.remaining)
                out += seg.data[seg.offset : seg.offset + n]
                seg.offset += n
                need -= n
                self._played_audio(seg.utterance_id, n // 2)
                if not seg.remaining:
                    self._segments.popleft()
            if not need or attempt or self.on_underrun is None or not (out or self._speaking):
                break
            self.on_underrun()
        self._buffered -= len(out)
        if self._buffered < self.max_buffer_bytes:
            self._room.set()
        if out:
            self.audio_frames_sent += 1
            self._idle_frames = 0
        elif self._speaking:
            self._idle_frames += 1
            if self._idle_frames >= self.stop_after_frames and self._current is not None:
                self._emit("finished", self._current)
                self._emit("stopped", self._current)
                self._speaking = False
                self._current = None
                self._played.clear()
        if need:
            out += bytes(need)
        return bytes(out)

    def _played_audio(self, utterance_id: int, samples: int) -> None:
        if utterance_id != self._current:
            if self._current is not None:
                self._emit("finished", self._current)
                self._played.pop(self._current, None)
            self._current = utterance_id
            self._played[utterance_id] = 0
            self._reported_ms = 0.0
            if not self._speaking:
                self._speaking = True
                self._emit("started", utterance_id)
            self._emit("began", utterance_id)
        self._played[utterance_id] += samples
        played_ms = self._played[utterance_id] / self.sample_rate * 1000.0
        if played_ms - self._reported_ms >= self.report_every_ms:
            self._reported_ms = played_ms
            self._emit("progress", utterance_id)

    def stop(self) -> None:
        self._segments.clear()
        self._buffered = 0
        self._room.set()
        super().stop()
