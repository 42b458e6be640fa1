"""Sample-rate conversion with soxr stream resamplers.

One ``StreamResampler`` per direction per stream: soxr keeps filter state across
chunks, so chunked output matches one-shot output and there are no clicks at
chunk edges. Audio is resampled as float32 (PCM16 in and out), so no dither or
integer rounding happens inside soxr; the final conversion rounds and clips.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import numpy as np
import numpy.typing as npt
import soxr

from voiceflow.core.processor import Processor, on
from voiceflow.frames.audio import AudioRaw, TTSAudio
from voiceflow.frames.base import evolve
from voiceflow.frames.control import End, Interrupt
from voiceflow.processors.audio.codecs import float32_to_pcm16, pcm16_to_float32
from voiceflow.processors.audio.errors import AudioFormatError
from voiceflow.processors.audio.validate import MAX_RATE, MIN_RATE, audio_problem

__all__ = ["Quality", "Resample", "StreamResampler"]

Quality = Literal["QQ", "LQ", "MQ", "HQ", "VHQ"]


class StreamResampler:
    """A stateful resampler for one continuous stream (one direction of one call).

    ``process`` takes PCM16 LE bytes, ``process_float32`` float samples in [-1, 1]
    (e.g. the browser's 48 kHz Float32Array); both return PCM16 LE at ``out_rate``.
    Pass ``last=True`` with the final chunk to flush the filter tail; the next call
    then starts a fresh stream. Equal rates pass audio through untouched.
    """

    def __init__(self, in_rate: int, out_rate: int, channels: int = 1, quality: Quality = "HQ") -> None:
        for label, rate in (("input", in_rate), ("output", out_rate)):
            if not MIN_RATE <= rate <= MAX_RATE:
                raise AudioFormatError(
                    f"{label} sample rate {rate} Hz is outside the supported {MIN_RATE}..{MAX_RATE} Hz"
                )
        if channels < 1:
            raise AudioFormatError(f"channel count must be >= 1, got {channels}")
        self.in_rate = in_rate
        self.out_rate = out_rate
        self.channels = channels
        self.quality = quality
        self._stream: soxr.ResampleStream | None = None

    @property
    def passthrough(self) -> bool:
        return self.in_rate == self.out_rate

    def _soxr(self) -> soxr.ResampleStream:
        if self._stream is None:
            self._stream = soxr.ResampleStream(
                self.in_rate, self.out_rate, self.channels, dtype="float32", quality=self.quality
            )
        return self._stream

    def process(self, pcm16: bytes, last: bool = False) -> bytes:
        """Resample a PCM16 LE chunk (any length in whole samples, including empty)."""
        if self.passthrough:
            pcm16_to_float32(pcm16, self.channels)  # validates the length
            return bytes(pcm16)
        return self._run(pcm16_to_float32(pcm16, self.channels), last)

    def process_float32(self, samples: npt.ArrayLike, last: bool = False) -> bytes:
        """Resample float audio (shape (n,) mono or (n, channels)); NaN/inf raise AudioFormatError."""
        x = np.asarray(samples, dtype=np.float32)
        if not np.isfinite(x).all():
            bad = int(np.flatnonzero(~np.isfinite(x.ravel()))[0])
            raise AudioFormatError(f"float audio holds NaN or infinity (first at index {bad})")
        expected_ndim = 1 if self.channels == 1 else 2
        if x.ndim != expected_ndim or (x.ndim == 2 and x.shape[1] != self.channels):
            raise AudioFormatError(
                f"float audio of shape {x.shape} does not match {self.channels} channel(s)"
            )
        if self.passthrough:
            return float32_to_pcm16(x)
        return self._run(x, last)

    def flush(self) -> bytes:
        """Emit the filter tail and end the stream."""
        if self.passthrough or self._stream is None:
            return b""
        empty = np.zeros((0,) if self.channels == 1 else (0, self.channels), dtype=np.float32)
        return self._run(empty, True)

    def _run(self, x: npt.NDArray[np.float32], last: bool) -> bytes:
        out = self._soxr().resample_chunk(np.ascontiguousarray(x), last=last)
        if last:
            self._stream = None
        return float32_to_pcm16(out)


class Resample(Processor):
    """Converts audio frames to ``out_rate``, one stream resampler per input rate and channel count.

    ``kinds`` picks which frames to convert (caller ``AudioRaw``, agent ``TTSAudio`` or
    both); others pass through. Agent audio is flushed at each utterance change so a
    tail never carries the next utterance's id; stale agent streams are dropped on
    Interrupt. Every stream's tail is flushed before ``End`` moves on.
    """

    produces = (AudioRaw, TTSAudio)

    def __init__(
        self,
        out_rate: int,
        *,
        kinds: Iterable[type[AudioRaw] | type[TTSAudio]] = (AudioRaw,),
        quality: Quality = "HQ",
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        if not MIN_RATE <= out_rate <= MAX_RATE:
            raise AudioFormatError(f"output sample rate {out_rate} Hz is outside {MIN_RATE}..{MAX_RATE} Hz")
        self.out_rate = out_rate
        self.kinds = frozenset(kinds)
        self.quality = quality
        #: (frame type, input rate, channels) -> (resampler, last frame seen, to stamp the tail)
        self._streams: dict[tuple[type, int, int], tuple[StreamResampler, AudioRaw | TTSAudio]] = {}

    @on(AudioRaw, TTSAudio)
    async def audio(self, frame: AudioRaw | TTSAudio) -> None:
        if type(frame) not in self.kinds or frame.sample_rate == self.out_rate:
            await self.push(frame)
            return
        problem = audio_problem(frame)
        if problem is not None:
            await self.report_error(problem)
            return
        key = (type(frame), frame.sample_rate, frame.channels)
        held = self._streams.get(key)
        if held is not None and isinstance(frame, TTSAudio):
            if isinstance(held[1], TTSAudio) and held[1].utterance_id != frame.utterance_id:
                await self._flush(key)
                held = None
        resampler = (
            held[0]
            if held is not None
            else StreamResampler(frame.sample_rate, self.out_rate, frame.channels, self.quality)
        )
        self._streams[key] = (resampler, frame)
        out = resampler.process(frame.audio)
        if out:
            await self.push(evolve(frame, audio=out, sample_rate=self.out_rate))

    async def _flush(self, key: tuple[type, int, int]) -> None:
        resampler, last = self._streams.pop(key)
        tail = resampler.flush()
        if tail:
            await self.push(evolve(last, audio=tail, sample_rate=self.out_rate))

    async def on_interrupt(self, frame: Interrupt) -> None:
        for key in [k for k in self._streams if k[0] is TTSAudio]:
            del self._streams[key]

    async def on_end(self, frame: End) -> None:
        for key in list(self._streams):
            await self._flush(key)
