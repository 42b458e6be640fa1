"""Voice activity: Silero scores turned into VoiceStarted / VoiceStopped (pauses, not turns).

``SpeechSegmenter`` is the pure state machine (windows in, boundary events out,
positions in samples); ``VADProcessor`` runs Silero off the event loop and places
the events on the ordered lane right after the audio frame in which they were
decided. ``VoiceStopped.last_voiced_at`` is the clock time of the end of
the last voiced window, derived from the audio frame's timestamp (the time its
last sample arrived), so it does not include the stop window.

The stop window is short by default (0.25 s): deciding the end of the user's
turn is the ``Endpointer``'s job (voiceflow.processors.audio.turns). With ``pause_secs``
(shorter than the stop window) a ``VoicePaused`` comes earlier, at that much quiet, and
``VoicePaused(resumed=True)`` when voice comes back (before the stop, or after it, at the
first voiced window, before an onset is confirmed): the endpointer prepares its reply at
the first (``voiceflow.processors.speculation``) and does not end a turn at the second.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from voiceflow.core.processor import Processor, on
from voiceflow.frames.audio import AudioRaw
from voiceflow.frames.control import End
from voiceflow.frames.speech import VoicePaused, VoiceStarted, VoiceStopped
from voiceflow.processors.audio.silero import (
    VAD_RATES,
    SileroVAD,
    VADStream,
    VADWindow,
    run_in_vad_pool,
    vad_cpu_per_call_second,
)
from voiceflow.processors.audio.validate import audio_problem

__all__ = [
    "SegmentEvent",
    "SileroVAD",
    "SpeechSegmenter",
    "VADProcessor",
    "VADStream",
    "VADWindow",
    "vad_cpu_per_call_second",
]


@dataclass(frozen=True, slots=True)
class SegmentEvent:
    kind: Literal["start", "stop", "pause", "resume"]
    #: for "start": first sample of the voiced run; for "stop": sample just past the last voiced window
    sample: int
    #: the window whose verdict decided the event
    decided_at_sample: int


class SpeechSegmenter:
    """Start after ``start_secs`` of consecutive voiced windows, stop after ``stop_secs`` without.

    A window is voiced when its probability reaches ``threshold`` (``threshold -
    hysteresis`` once speaking, as in Silero's reference) and its RMS level reaches
    ``min_volume_dbfs``. While counting towards a start, up to ``start_gap_windows``
    unvoiced windows in a row (a stop consonant's closure) do not restart the count.
    """

    def __init__(
        self,
        window_samples: int,
        sample_rate: int,
        *,
        start_secs: float = 0.2,
        stop_secs: float = 0.25,
        threshold: float = 0.5,
        hysteresis: float = 0.15,
        min_volume_dbfs: float = -50.0,
        start_gap_windows: int = 1,
        pause_secs: float | None = None,
    ) -> None:
        self.window_samples = window_samples
        #: unvoiced windows that make a pause hint (None: no hints)
        self.pause_windows = (
            None if pause_secs is None else max(1, round(pause_secs * sample_rate / window_samples))
        )
        self._paused = False
        self.sample_rate = sample_rate
        self.start_windows = max(1, round(start_secs * sample_rate / window_samples))
        self.stop_windows = max(1, round(stop_secs * sample_rate / window_samples))
        self.threshold = threshold
        self.stay_threshold = max(0.0, threshold - hysteresis)
        self.min_volume_dbfs = min_volume_dbfs
        self.start_gap_windows = start_gap_windows
        self.speaking = False
        self._gap = 0
        self._run = 0  # voiced windows in a row (quiet) / unvoiced windows in a row (speaking)
        self._run_start = 0
        self.last_voiced_end = 0

    def update(self, w: VADWindow) -> SegmentEvent | None:
        loud = w.volume_dbfs >= self.min_volume_dbfs
        if not self.speaking:
            if loud and w.probability >= self.threshold:
                if self._run == 0:
                    self._run_start = w.end_sample - self.window_samples
                self._run += 1
                self._gap = 0
                if self._run >= self.start_windows:
                    self.speaking, self._run = True, 0
                    self.last_voiced_end = w.end_sample
                    return SegmentEvent("start", self._run_start, w.end_sample)
                if self._run == 1 and self.pause_windows is not None:  # voice may be back
                    return SegmentEvent("resume", w.end_sample, w.end_sample)
            elif self._run:
                self._gap += 1
                if self._gap > self.start_gap_windows:
                    self._run = self._gap = 0
            return None
        if loud and w.probability >= self.stay_threshold:
            self._run = 0
            self.last_voiced_end = w.end_sample
            if self._paused:
                self._paused = False
                return SegmentEvent("resume", w.end_sample, w.end_sample)
            return None
        self._run += 1
        if self._run >= self.stop_windows:
            self.speaking, self._run, self._paused = False, 0, False
            return SegmentEvent("stop", self.last_voiced_end, w.end_sample)
        if self.pause_windows is not None and self._run == self.pause_windows and not self._paused:
            self._paused = True
            return SegmentEvent("pause", self.last_voiced_end, w.end_sample)
        return None


class VADProcessor(Processor):
    """Silero VAD on caller audio (8 or 16 kHz): forwards audio unchanged, adds speech events.

    Audio at another rate is forwarded with an ``Error`` upstream naming the fix
    (put ``Resample(16000)`` before the VAD); malformed frames (empty, odd byte
    count) are reported and skipped. Multi-channel audio is averaged to mono for
    scoring. One Silero session serves every VAD in the process.
    """

    produces = (VoiceStarted, VoiceStopped, VoicePaused)

    def __init__(
        self,
        *,
        name: str | None = None,
        start_secs: float = 0.2,
        stop_secs: float = 0.25,
        threshold: float = 0.5,
        min_volume_dbfs: float = -50.0,
        pause_secs: float | None = None,
    ) -> None:
        super().__init__(name=name)
        self.start_secs = start_secs
        self.stop_secs = stop_secs
        self.pause_secs = pause_secs if pause_secs is None or pause_secs < stop_secs else None
        self.threshold = threshold
        self.min_volume_dbfs = min_volume_dbfs
        self._model: SileroVAD | None = None
        self._stream: VADStream | None = None
        self._segmenter: SpeechSegmenter | None = None
        self._last_time = 0.0  # clock time of the last sample scored so far

    @property
    def speaking(self) -> bool:
        return self._segmenter is not None and self._segmenter.speaking

    async def setup(self) -> None:
        self._model = await run_in_vad_pool(SileroVAD.shared)

    def _stream_for(self, rate: int) -> tuple[VADStream, SpeechSegmenter]:
        if self._stream is None or self._stream.sample_rate != rate or self._segmenter is None:
            self._stream = VADStream(rate, self._model)
            self._segmenter = SpeechSegmenter(
                self._stream.window,
                rate,
                start_secs=self.start_secs,
                stop_secs=self.stop_secs,
                threshold=self.threshold,
                min_volume_dbfs=self.min_volume_dbfs,
                pause_secs=self.pause_secs,
            )
        return self._stream, self._segmenter

    @on(AudioRaw)
    async def audio(self, frame: AudioRaw) -> None:
        problem = audio_problem(frame)
        if problem is not None:
            await self.report_error(problem)
            return
        if frame.sample_rate not in VAD_RATES:
            await self.report_error(
                f"VAD needs 8000 or 16000 Hz audio, got {frame.sample_rate} Hz; "
                "put Resample(16000) before it (frame forwarded unscored)"
            )
            await self.push(frame)
            return
        was_speaking = self.speaking
        stream, segmenter = self._stream_for(frame.sample_rate)
        if self.speaking != was_speaking:  # rate changed mid-speech: close the old segment
            await self.push(VoiceStopped(last_voiced_at=self._last_time))
        pcm = frame.audio if frame.channels == 1 else _downmix(frame.audio, frame.channels)
        stream_end = stream.samples_seen + len(pcm) // 2
        windows = await run_in_vad_pool(stream.process, pcm)
        await self.push(frame)
        rate = frame.sample_rate

        def clock_at(sample: int) -> float:
            return frame.ts - (stream_end - sample) / rate

        self._last_time = frame.ts
        for w in windows:
            event = segmenter.update(w)
            if event is None:
                continue
            if event.kind == "start":
                await self.push(VoiceStarted())
            elif event.kind == "stop":
                await self.push(VoiceStopped(last_voiced_at=clock_at(event.sample)))
            else:
                resumed = event.kind == "resume"
                await self.push(VoicePaused(last_voiced_at=clock_at(event.sample), resumed=resumed))

    async def on_end(self, frame: End) -> None:
        seg = self._segmenter
        if seg is not None and seg.speaking and self._stream is not None:
            seg.speaking = False
            lag = (self._stream.samples_seen - seg.last_voiced_end) / self._stream.sample_rate
            await self.push(VoiceStopped(last_voiced_at=self._last_time - lag))


def _downmix(pcm: bytes, channels: int) -> bytes:
    x = np.frombuffer(pcm, dtype="<i2").reshape(-1, channels).astype(np.int32)
    return x.mean(axis=1).round().astype("<i2").tobytes()
