"""WebRTCInput: the peer's microphone as 16 kHz mono PCM16 ``AudioRaw`` in 20 ms frames (graph source).

aiortc decodes Opus to ``av.AudioFrame``s (48 kHz, s16, usually stereo,
20 ms). Each frame is downmixed, resampled by one stateful soxr stream for the
whole call (no clicks at frame edges) and re-cut into exact ``frame_ms``
frames. A frame that cannot be converted is reported once upstream (with a
count of repeats) and skipped; the call goes on.
"""

from __future__ import annotations

import asyncio
import logging

import numpy as np
import numpy.typing as npt
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame

from voiceflow.calls import PIPELINE_RATE
from voiceflow.frames import AudioRaw, End, Start
from voiceflow.processors import Processor
from voiceflow.processors.audio.framing import Rechunker
from voiceflow.processors.audio.resample import StreamResampler
from voiceflow.transports.webrtc.peer import WebRTCPeer

__all__ = ["WebRTCInput", "frame_to_mono"]

log = logging.getLogger("voiceflow.webrtc")

_SCALE = {np.dtype("int16"): 32768.0, np.dtype("int32"): 2147483648.0}


class AudioFrameError(ValueError):
    """An inbound frame's layout or sample format is not usable."""


def frame_to_mono(frame: AudioFrame) -> npt.NDArray[np.float32]:
    """Samples of ``frame`` averaged over its channels, as float32 in [-1, 1]."""
    channels = len(frame.layout.channels)
    if channels < 1 or frame.samples <= 0:
        raise AudioFrameError(f"audio frame has {channels} channel(s) and {frame.samples} samples")
    data = frame.to_ndarray()
    if data.dtype.kind == "f":
        x = data.astype(np.float32, copy=False)
    elif data.dtype in _SCALE:
        x = data.astype(np.float32) / np.float32(_SCALE[data.dtype])
    else:
        raise AudioFrameError(f"unsupported sample format {frame.format.name!r}")
    if frame.format.is_planar:
        x = x.reshape(channels, -1).mean(axis=0) if channels > 1 else x.reshape(-1)
    else:
        x = x.reshape(-1, channels).mean(axis=1) if channels > 1 else x.reshape(-1)
    if not np.isfinite(x).all():
        raise AudioFrameError("audio frame holds NaN or infinity")
    return np.clip(x, -1.0, 1.0).astype(np.float32, copy=False)


class WebRTCInput(Processor):
    """Source of a WebRTC call's graph: reads the peer's audio track once the run has started."""

    produces = (AudioRaw,)

    def __init__(
        self,
        peer: WebRTCPeer,
        *,
        name: str = "webrtc_in",
        sample_rate: int = PIPELINE_RATE,
        frame_ms: int = 20,
    ) -> None:
        super().__init__(name=name)
        self.peer = peer
        self.sample_rate = sample_rate
        self.rechunker = Rechunker(sample_rate, frame_ms)
        self.frames_in = 0
        self.frames_out = 0
        self.bad_frames = 0
        self._resampler: StreamResampler | None = None
        self._reader: asyncio.Task[None] | None = None

    async def on_start(self, frame: Start) -> None:
        self._reader = self.create_task(self._read(), turn=False)

    async def _read(self) -> None:
        track = await self.peer.wait_remote_audio()
        if track is None:
            return
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return  # the peer's track ended; the transport ends the call
            if not isinstance(frame, AudioFrame):
                continue
            self.frames_in += 1
            try:
                pcm = self._convert(frame)
            except (AudioFrameError, ValueError) as exc:
                await self._bad_frame(str(exc))
                continue
            for chunk in self.rechunker.push(pcm):
                self.frames_out += 1
                await self.push(AudioRaw(audio=chunk, sample_rate=self.sample_rate, channels=1))

    def _convert(self, frame: AudioFrame) -> bytes:
        mono = frame_to_mono(frame)
        rate = int(frame.sample_rate)
        resampler = self._resampler
        if resampler is None or resampler.in_rate != rate:
            resampler = self._resampler = StreamResampler(rate, self.sample_rate)
        return resampler.process_float32(mono)

    async def _bad_frame(self, problem: str) -> None:
        self.bad_frames += 1
        if self.bad_frames == 1 or self.bad_frames % 500 == 0:
            message = f"inbound WebRTC audio frame skipped: {problem} ({self.bad_frames} so far)"
            await self.report_error(message)

    async def on_end(self, frame: End) -> None:
        if self._reader is not None:
            self._reader.cancel()
        tail = self.rechunker.flush()
        if tail:
            await self.push(AudioRaw(audio=tail, sample_rate=self.sample_rate, channels=1))

    async def cleanup(self) -> None:
        await self.peer.close()
