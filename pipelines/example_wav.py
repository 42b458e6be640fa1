"""The smallest real pipeline: a WAV file through an energy speech detector into a recorder.

    wav_in -> level -> wav_out

Copy this file to start a pipeline of your own: processors are plain classes,
the graph is declared with ``Graph.chain``, and ``GraphRun`` runs it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from voiceflow.frames import AudioRaw, UserStartedSpeaking, UserStoppedSpeaking
from voiceflow.graphs import FrameLog, Graph, GraphRun
from voiceflow.processors import Processor, on
from voiceflow.transports.local import WavFileSink, WavFileSource


class LevelMeter(Processor):
    """Marks speech by frame energy: ``min_dbfs`` for ``hang_frames`` frames opens/closes a segment."""

    produces = (UserStartedSpeaking, UserStoppedSpeaking)

    def __init__(self, *, name: str = "level", min_dbfs: float = -45.0, hang_frames: int = 10) -> None:
        super().__init__(name=name)
        self.min_dbfs = min_dbfs
        self.hang_frames = hang_frames
        self.speaking = False
        self.quiet = 0
        self.peak_dbfs = -120.0
        self.last_voiced: float | None = None

    @on(AudioRaw)
    async def audio(self, frame: AudioRaw) -> None:
        x = np.frombuffer(frame.audio, dtype="<i2").astype(np.float32) / 32768.0
        rms = float(np.sqrt(np.mean(x * x))) if x.size else 0.0
        dbfs = 20 * np.log10(max(rms, 1e-6))
        self.peak_dbfs = max(self.peak_dbfs, dbfs)
        voiced = dbfs >= self.min_dbfs
        if voiced:
            self.last_voiced = frame.ts
            self.quiet = 0
            if not self.speaking:
                self.speaking = True
                await self.push(UserStartedSpeaking())
        elif self.speaking:
            self.quiet += 1
            if self.quiet >= self.hang_frames:
                self.speaking = False
                await self.push(UserStoppedSpeaking(last_voiced_at=self.last_voiced))
        await self.push(frame)


@dataclass
class ExampleReport:
    frames: Counter[str] = field(default_factory=Counter)
    segments: list[tuple[float, float]] = field(default_factory=list)
    audio_seconds: float = 0.0
    out_path: Path | None = None
    peak_dbfs: float = 0.0


def build(wav: str | Path, out: str | Path) -> Graph:
    return Graph("example_wav").chain(
        WavFileSource(wav, frame_ms=20), LevelMeter(), WavFileSink(out, kind=AudioRaw)
    )


async def run_example(wav: str | Path, out: str | Path) -> ExampleReport:
    graph = build(wav, out)
    log = FrameLog()
    run = GraphRun(graph)
    run.add_observer(log)
    async with run:
        await run.wait(timeout=60)
    report = ExampleReport(out_path=Path(out))
    t0 = None
    start = None
    for ev in log.events:
        if ev.source != "wav_out":
            continue
        report.frames[ev.frame.type_name] += 1
        if isinstance(ev.frame, AudioRaw):
            t0 = t0 if t0 is not None else 0.0
            report.audio_seconds += ev.frame.duration
        elif isinstance(ev.frame, UserStartedSpeaking):
            start = report.audio_seconds
        elif isinstance(ev.frame, UserStoppedSpeaking) and start is not None:
            report.segments.append((start, report.audio_seconds))
    level = run.node("level")
    assert isinstance(level, LevelMeter)
    report.peak_dbfs = level.peak_dbfs
    return report
