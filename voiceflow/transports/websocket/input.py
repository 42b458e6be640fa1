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

Feeding never waits: the socket's reader must keep reading (a reader parked on
a full pipeline stops answering keepalive pings, and the peer or the server
then kills a healthy call). The queue drops its oldest audio when full
(``DROP_OLDEST``, 2 s deep); each episode of dropping is logged once when it
starts and once when it ends, with its count, and counted in ``drop_episodes``.
"""

from __future__ import annotations

import logging
from typing import ClassVar

from voiceflow.calls import PIPELINE_RATE
from voiceflow.core.queue import Overflow
from voiceflow.frames import DTMF, AudioRaw, Error, Frame
from voiceflow.observability.metrics import INPUT_AUDIO_DROPPED
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
    #: 2 s of 20 ms frames; past that, a call is better served by fresh audio than late audio
    queue_size: ClassVar[int] = 100
    overflow: ClassVar[Overflow] = Overflow.DROP_OLDEST
    #: the ``transport`` label of ``voiceflow_input_audio_dropped_total``
    transport: ClassVar[str] = "websocket"

    def __init__(
        self,
        *,
        name: str | None = None,
        in_rate: int,
        out_rate: int = PIPELINE_RATE,
        frame_ms: int = 20,
        quality: Quality = "QQ",
    ) -> None:
        super().__init__(name=name or "input")
        self.in_rate = in_rate
        self.out_rate = out_rate
        self._resampler = StreamResampler(in_rate, out_rate, quality=quality)
        self._rechunker = Rechunker(out_rate, frame_ms)
        self._odd = b""  # a trailing odd byte waiting for its pair
        self.frames_in = 0
        self.dropped_frames = 0
        self.drop_episodes = 0
        self._episode_drops = 0  # frames dropped in the episode going on (0: none)
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
        """Queue without waiting; a full queue drops its oldest audio (see module doc)."""
        before = self.queue.dropped_overflow
        self.queue.offer(frame)
        dropped = self.queue.dropped_overflow - before
        if dropped:
            self.dropped_frames += dropped
            INPUT_AUDIO_DROPPED.labels(self.transport).inc(dropped)
            if self._episode_drops == 0:
                self.drop_episodes += 1
                log.warning("%s: pipeline not keeping up; dropping the oldest audio", self.name)
            self._episode_drops += dropped
        elif self._episode_drops:
            log.warning("%s: pipeline caught up; %d frames (%d ms) dropped", self.name,
                        self._episode_drops, self._episode_drops * 20)  # fmt: skip
            self._episode_drops = 0
