"""The input end of a socket transport: a graph source fed by the socket handler.

The handler (a WebSocket route, not a graph task) calls ``feed_pcm`` /
``feed_dtmf``; frames are stamped with the run's clock and generation and
pushed into this processor's queue, from where they flow downstream. Audio at
any rate is resampled (one stateful soxr stream) to the pipeline rate and cut
into exact 20 ms ``AudioRaw`` frames; a frame's timestamp is the moment its
last sample arrived, which is what voice-to-voice latency is measured from.

The resampler runs at soxr's "QQ" quality by default: the higher qualities
filter in blocks and release ~100 ms bursts with up to ~90 ms of delay (8 kHz
-> 16 kHz), which would add that to every turn and jitter the VAD's timing;
QQ streams each 20 ms with a few samples of delay (telephone audio has nothing
above 4 kHz for its images to fold onto).
"""

from __future__ import annotations

import asyncio
import logging

from voiceflow.calls import PIPELINE_RATE
from voiceflow.frames import DTMF, AudioRaw, Error, Frame
from voiceflow.processors import Processor
from voiceflow.processors.audio.framing import Rechunker
from voiceflow.processors.audio.resample import Quality, StreamResampler

log = logging.getLogger("voiceflow.transports.input")

__all__ = ["DTMF_DIGITS", "PcmInput"]

#: the keys a telephone keypad (and Twilio's ``dtmf`` event) can send
DTMF_DIGITS = frozenset("0123456789*#ABCD")


class PcmInput(Processor):
    """Source of a call's graph: PCM16 mono at ``in_rate`` in, 20 ms ``AudioRaw`` at 16 kHz out; DTMF."""

    produces = (AudioRaw, DTMF)

    def __init__(
        self,
        *,
        name: str | None = None,
        in_rate: int,
        out_rate: int = PIPELINE_RATE,
        frame_ms: int = 20,
        quality: Quality = "QQ",
        put_timeout_s: float = 2.0,
    ) -> None:
        super().__init__(name=name or "input")
        self.in_rate = in_rate
        self.out_rate = out_rate
        self.put_timeout_s = put_timeout_s
        self._resampler = StreamResampler(in_rate, out_rate, quality=quality)
        self._rechunker = Rechunker(out_rate, frame_ms)
        self._odd = b""  # a trailing odd byte waiting for its pair
        self.frames_in = 0
        self.dropped_frames = 0
        self.dtmf_in = 0

    @property
    def accepting(self) -> bool:
        return self._run is not None and not self._run.done

    async def feed_pcm(self, pcm16: bytes) -> None:
        """Caller audio as it arrived (any length): resampled, re-framed and pushed."""
        if not self.accepting:
            return
        data = self._odd + pcm16
        cut = len(data) - len(data) % 2
        self._odd = data[cut:]
        for chunk in self._rechunker.push(self._resampler.process(data[:cut])):
            await self._inject(self.run.make(AudioRaw, audio=chunk, sample_rate=self.out_rate))
            self.frames_in += 1

    async def feed_dtmf(self, digit: str) -> None:
        """A keypad press; ``digit`` must be one of ``DTMF_DIGITS`` (ValueError otherwise)."""
        if digit not in DTMF_DIGITS:
            raise ValueError(f"not a DTMF digit: {digit!r} (expected one of 0-9 * # A-D)")
        if not self.accepting:
            return
        self.dtmf_in += 1
        await self._inject(self.run.make(DTMF, digit=digit))

    async def report(self, message: str) -> None:
        """Bad input from the wire, surfaced to the graph as an upstream ``Error`` (never raised)."""
        if self.accepting:
            await self.push_up(self.run.make(Error, message=message, processor=self.name))

    async def _inject(self, frame: Frame) -> None:
        if self.queue.offer(frame):
            return
        try:  # a full queue means the pipeline is not keeping up: wait a little, then drop
            await asyncio.wait_for(self.queue.put(frame), self.put_timeout_s)
        except TimeoutError:
            self.dropped_frames += 1
            log.warning("%s: pipeline not keeping up; dropped a %s frame", self.name, frame.type_name)
