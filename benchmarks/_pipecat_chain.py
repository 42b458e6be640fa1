"""The framework benchmark's peer side: the same chain shape built on pipecat-ai.

Run by benchmarks/framework.py with the interpreter of the benchmark's own
virtualenv (.venv-bench), which has pipecat-ai installed; prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import tracemalloc


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


async def _measure(hops: int, frames: int, latency_frames: int) -> dict[str, float]:
    from loguru import logger

    logger.remove()
    from pipecat.frames.frames import EndFrame, InputAudioRawFrame
    from pipecat.pipeline.pipeline import Pipeline
    from pipecat.pipeline.worker import PipelineWorker
    from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
    from pipecat.workers.runner import WorkerRunner

    class Passthrough(FrameProcessor):
        async def process_frame(self, frame, direction: FrameDirection):  # type: ignore[no-untyped-def]
            await super().process_frame(frame, direction)
            await self.push_frame(frame, direction)

    class Sink(FrameProcessor):
        def __init__(self) -> None:
            super().__init__()
            self.count = 0
            self.target = 0
            self.done = asyncio.Event()
            self.stamps: list[float] = []
            self.sent_at = 0.0

        async def process_frame(self, frame, direction: FrameDirection):  # type: ignore[no-untyped-def]
            await super().process_frame(frame, direction)
            if isinstance(frame, InputAudioRawFrame):
                self.count += 1
                if self.sent_at:
                    self.stamps.append(time.perf_counter() - self.sent_at)
                if self.count >= self.target:
                    self.done.set()
            await self.push_frame(frame, direction)

    audio = b"\0" * 640
    out: dict[str, float] = {}

    async def one_run(mode: str) -> None:
        procs = [Passthrough() for _ in range(hops)]
        sink = Sink()
        worker = PipelineWorker(Pipeline([*procs, sink]), cancel_on_idle_timeout=False)
        runner = WorkerRunner()
        started = asyncio.Event()

        @worker.event_handler("on_pipeline_started")
        async def _started(worker, frame):  # type: ignore[no-untyped-def]
            started.set()

        async def drive() -> None:
            await started.wait()
            if mode == "throughput":
                sink.target = frames
                t0 = time.perf_counter()
                for _ in range(frames):
                    await worker.queue_frame(
                        InputAudioRawFrame(audio=audio, sample_rate=16000, num_channels=1)
                    )
                await sink.done.wait()
                out["throughput_fps"] = frames / (time.perf_counter() - t0)
            else:
                for i in range(latency_frames):
                    sink.target = i + 1
                    sink.done.clear()
                    sink.sent_at = time.perf_counter()
                    await worker.queue_frame(
                        InputAudioRawFrame(audio=audio, sample_rate=16000, num_channels=1)
                    )
                    await sink.done.wait()
                lat = sink.stamps[10:]  # skip warm-up
                out["latency_p50_us"] = _pct(lat, 0.5) * 1e6
                out["latency_p99_us"] = _pct(lat, 0.99) * 1e6
                out["latency_mean_us"] = statistics.fmean(lat) * 1e6
            await worker.queue_frame(EndFrame())

        await runner.add_workers(worker)
        await asyncio.gather(runner.run(), drive())

    await one_run("throughput")
    await one_run("latency")

    # memory per processor: allocate and start a long chain, measure what it holds
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    n = 200
    procs = [Passthrough() for _ in range(n)]
    sink = Sink()
    worker = PipelineWorker(Pipeline([*procs, sink]), cancel_on_idle_timeout=False)
    runner = WorkerRunner()
    started = asyncio.Event()

    @worker.event_handler("on_pipeline_started")
    async def _started2(worker, frame):  # type: ignore[no-untyped-def]
        started.set()

    async def measure_mem() -> None:
        await started.wait()
        after = tracemalloc.take_snapshot()
        grown = sum(s.size_diff for s in after.compare_to(before, "filename"))
        out["memory_per_processor_bytes"] = grown / n
        await worker.queue_frame(EndFrame())

    await runner.add_workers(worker)
    await asyncio.gather(runner.run(), measure_mem())
    tracemalloc.stop()
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hops", type=int, default=10)
    ap.add_argument("--frames", type=int, default=20000)
    ap.add_argument("--latency-frames", type=int, default=2000)
    a = ap.parse_args()
    import importlib.metadata

    res = asyncio.run(_measure(a.hops, a.frames, a.latency_frames))
    res["version"] = importlib.metadata.version("pipecat-ai")  # type: ignore[assignment]
    json.dump(res, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
