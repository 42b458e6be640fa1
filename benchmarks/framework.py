"""Framework benchmark: a chain of N passthrough processors carrying 20 ms audio frames.

Prints throughput (frames/s through the chain), cost per hop, unloaded latency
(one frame at a time, source to sink, p50/p99) and memory per processor. With
``--compare-pipecat`` the same shape is built on pipecat-ai in its own
virtualenv (``.venv-bench``, created on first use) and measured in the same run.

    .venv/bin/python benchmarks/framework.py [--hops 10] [--frames 20000] [--compare-pipecat]
        [--baseline REV] [--metrics] [--json]

``--metrics`` measures the cost of Prometheus metrics: the same chain with and
without the per-call ``CallMetrics`` observer the server attaches to every call,
in alternating rounds (best of each kept), as throughput and cost per hop.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from voiceflow.frames import AudioRaw  # noqa: E402
from voiceflow.graphs import Graph, GraphRun, MonotonicClock  # noqa: E402
from voiceflow.processors import Passthrough, Processor, on  # noqa: E402

AUDIO = b"\0" * 640  # 20 ms of 16 kHz PCM16


class _PerfClock(MonotonicClock):
    def now(self) -> float:
        return time.perf_counter()


class _Sink(Processor):
    """Counts audio frames, checks they arrive in push order, and times each one."""

    def __init__(self) -> None:
        super().__init__(name="sink")
        self.count = 0
        self.target = 0
        self.last_id = 0
        self.in_order = True
        self.latencies: list[float] = []
        self.timing = False
        self.done = asyncio.Event()

    @on(AudioRaw)
    async def audio(self, frame: AudioRaw) -> None:
        if frame.id <= self.last_id:
            self.in_order = False
        self.last_id = frame.id
        self.count += 1
        if self.timing:
            self.latencies.append(time.perf_counter() - frame.ts)
        if self.count >= self.target:
            self.done.set()


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


async def measure_voiceflow(hops: int, frames: int, latency_frames: int) -> dict[str, float]:
    out: dict[str, float] = {}
    sink = _Sink()
    graph = Graph("bench", inputs=[AudioRaw]).chain(*[Passthrough(name=f"p{i}") for i in range(hops)], sink)
    async with GraphRun(graph, clock=_PerfClock()) as run:
        sink.target = frames
        t0 = time.perf_counter()
        for _ in range(frames):
            await run.push(run.make(AudioRaw, audio=AUDIO, sample_rate=16000))
        await sink.done.wait()
        elapsed = time.perf_counter() - t0
    out["throughput_fps"] = frames / elapsed
    out["in_order"] = float(sink.in_order and sink.count == frames)

    sink = _Sink()
    graph = Graph("lat", inputs=[AudioRaw]).chain(*[Passthrough(name=f"p{i}") for i in range(hops)], sink)
    async with GraphRun(graph, clock=_PerfClock()) as run:
        sink.timing = True
        for i in range(latency_frames):
            sink.target = i + 1
            sink.done.clear()
            await run.push(run.make(AudioRaw, audio=AUDIO, sample_rate=16000))
            await sink.done.wait()
    lat = sink.latencies[10:]
    out["latency_p50_us"] = _pct(lat, 0.5) * 1e6
    out["latency_p99_us"] = _pct(lat, 0.99) * 1e6

    n = 200
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    procs = [Passthrough(name=f"m{i}") for i in range(n)]
    graph = Graph("mem", inputs=[AudioRaw]).chain(*procs)
    run = GraphRun(graph)
    await run.start()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    await run.end()
    out["memory_per_processor_bytes"] = sum(s.size_diff for s in after.compare_to(before, "filename")) / n
    return out


def _bench_python() -> Path:
    """The benchmark's own virtualenv with pipecat-ai (created on first use)."""
    venv = ROOT / ".venv-bench"
    py = venv / "bin" / "python"
    if not py.exists():
        print("setting up .venv-bench with pipecat-ai (first run only)...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    probe = subprocess.run([str(py), "-c", "import pipecat"], capture_output=True)
    if probe.returncode != 0:
        subprocess.run([str(py), "-m", "pip", "install", "-q", "pipecat-ai"], check=True)
    return py


def measure_pipecat(hops: int, frames: int, latency_frames: int) -> dict[str, float]:
    py = _bench_python()
    cmd = [str(py), str(ROOT / "benchmarks" / "_pipecat_chain.py"), "--hops", str(hops)]
    cmd += ["--frames", str(frames), "--latency-frames", str(latency_frames)]
    res = subprocess.run(
        cmd, capture_output=True, text=True, check=True, env={**os.environ, "PYTHONPATH": ""}
    )
    return dict(json.loads(res.stdout))


def _measure_tree(tree: Path, hops: int, frames: int, latency_frames: int) -> dict[str, float]:
    cmd = [sys.executable, str(tree / "benchmarks" / "framework.py"), "--json", "--hops", str(hops)]
    cmd += ["--frames", str(frames), "--latency-frames", str(latency_frames)]
    env = {**os.environ, "PYTHONPATH": str(tree)}
    res = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=tree, env=env)
    return dict(json.loads(res.stdout.strip().splitlines()[-1]))


async def measure_throughput(hops: int, frames: int, *, metrics: bool) -> float:
    """Frames/s through the chain, with or without the server's per-call metrics observer."""
    from voiceflow.calls import CallContext, CallSession
    from voiceflow.observability.metrics import CallMetrics

    sink = _Sink()
    graph = Graph("bench", inputs=[AudioRaw]).chain(*[Passthrough(name=f"p{i}") for i in range(hops)], sink)
    run = GraphRun(graph, clock=_PerfClock())
    if metrics:
        run.add_observer(CallMetrics(CallSession(CallContext("bench", "local"), run)))
    async with run:
        sink.target = frames
        t0 = time.perf_counter()
        for _ in range(frames):
            await run.push(run.make(AudioRaw, audio=AUDIO, sample_rate=16000))
        await sink.done.wait()
        elapsed = time.perf_counter() - t0
    return frames / elapsed


def measure_metrics_cost(hops: int, frames: int, rounds: int) -> dict[str, float]:
    bare, observed = [], []
    for _ in range(rounds):
        bare.append(asyncio.run(measure_throughput(hops, frames, metrics=False)))
        observed.append(asyncio.run(measure_throughput(hops, frames, metrics=True)))
    without, with_ = max(bare), max(observed)
    return {
        "metrics_off_throughput_fps": round(without),
        "metrics_on_throughput_fps": round(with_),
        "metrics_off_per_hop_us": round(1e6 / without / hops, 3),
        "metrics_on_per_hop_us": round(1e6 / with_ / hops, 3),
        "metrics_cost_per_hop_us": round(1e6 / with_ / hops - 1e6 / without / hops, 3),
        "metrics_throughput_cost_pct": round(100.0 * (without - with_) / without, 2),
    }


def _best(runs: list[dict[str, float]]) -> dict[str, float]:
    """Best of the rounds per measure (the least disturbed by other work on the machine)."""
    best = dict(runs[0])
    for r in runs[1:]:
        best["throughput_fps"] = max(best["throughput_fps"], r["throughput_fps"])
        for key in ("per_hop_us", "latency_p50_us", "latency_p99_us", "memory_per_processor_bytes"):
            best[key] = min(best[key], r[key])
    return best


def measure_against(rev: str, hops: int, frames: int, latency_frames: int, rounds: int) -> tuple[dict, dict]:
    """This tree and revision ``rev`` (a detached git worktree), alternating, ``rounds`` times each."""
    with tempfile.TemporaryDirectory(prefix="vf-baseline-") as tmp:
        tree = Path(tmp) / "tree"
        git = ["git", "-C", str(ROOT), "worktree"]
        subprocess.run([*git, "add", "-q", "--detach", str(tree), rev], check=True)
        try:
            now, then = [], []
            for _ in range(rounds):
                now.append(_measure_tree(ROOT, hops, frames, latency_frames))
                then.append(_measure_tree(tree, hops, frames, latency_frames))
        finally:
            subprocess.run([*git, "remove", "--force", str(tree)], check=False)
    return _best(now), _best(then)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hops", type=int, default=10, help="passthrough processors in the chain")
    ap.add_argument("--frames", type=int, default=20000, help="20 ms audio frames for throughput")
    ap.add_argument("--latency-frames", type=int, default=2000, help="frames sent one at a time")
    ap.add_argument("--compare-pipecat", action="store_true")
    ap.add_argument("--baseline", metavar="REV", help="also measure voiceflow at git revision REV, same run")
    ap.add_argument("--rounds", type=int, default=3, help="with --baseline: alternating rounds, best kept")
    ap.add_argument(
        "--metrics", action="store_true", help="also measure the per-call metrics observer's cost"
    )
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    a = ap.parse_args()

    vf = asyncio.run(measure_voiceflow(a.hops, a.frames, a.latency_frames))
    fig: dict[str, float | str] = {
        "hops": a.hops,
        "frames": a.frames,
        "throughput_fps": round(vf["throughput_fps"]),
        "per_hop_us": round(1e6 / vf["throughput_fps"] / a.hops, 2),
        "latency_p50_us": round(vf["latency_p50_us"], 1),
        "latency_p99_us": round(vf["latency_p99_us"], 1),
        "memory_per_processor_bytes": round(vf["memory_per_processor_bytes"]),
        "order_preserved": bool(vf["in_order"]),  # type: ignore[dict-item]
    }
    if a.compare_pipecat:
        pc = measure_pipecat(a.hops, a.frames, a.latency_frames)
        fig.update(
            {
                "pipecat_version": str(pc["version"]),
                "pipecat_throughput_fps": round(pc["throughput_fps"]),
                "pipecat_per_hop_us": round(1e6 / pc["throughput_fps"] / a.hops, 2),
                "pipecat_latency_p50_us": round(pc["latency_p50_us"], 1),
                "pipecat_latency_p99_us": round(pc["latency_p99_us"], 1),
                "pipecat_memory_per_processor_bytes": round(pc["memory_per_processor_bytes"]),
                "throughput_ratio": round(vf["throughput_fps"] / pc["throughput_fps"], 2),
                "latency_p50_ratio": round(vf["latency_p50_us"] / pc["latency_p50_us"], 3),
                "latency_p99_ratio": round(vf["latency_p99_us"] / pc["latency_p99_us"], 3),
            }
        )
    if a.baseline:
        mine, base = measure_against(a.baseline, a.hops, a.frames, a.latency_frames, a.rounds)
        for key in ("throughput_fps", "per_hop_us", "latency_p50_us", "latency_p99_us"):
            fig[key] = mine[key]  # the alternating rounds replace the single in-process figure
        fig["baseline_rev"] = a.baseline
        for key in (
            "throughput_fps",
            "per_hop_us",
            "latency_p50_us",
            "latency_p99_us",
            "memory_per_processor_bytes",
        ):
            fig["baseline_" + key] = base[key]
        fig["throughput_vs_baseline"] = round(float(fig["throughput_fps"]) / float(base["throughput_fps"]), 3)
    if a.metrics:
        fig.update(measure_metrics_cost(a.hops, a.frames, max(3, a.rounds)))
    if a.json:
        print(json.dumps(fig))
        return 0
    rows = [
        ("throughput (frames/s)", "throughput_fps"),
        ("cost per hop (us)", "per_hop_us"),
        ("unloaded latency p50 (us)", "latency_p50_us"),
        ("unloaded latency p99 (us)", "latency_p99_us"),
        ("memory per processor (bytes)", "memory_per_processor_bytes"),
    ]
    print(f"chain of {a.hops} passthrough processors, {a.frames} x 20 ms audio frames")
    head = f"{'measure':32} {'voiceflow':>12}"
    if a.compare_pipecat:
        head += f" {'pipecat ' + str(fig['pipecat_version']):>16} {'ratio':>8}"
    print(head)
    for label, key in rows:
        line = f"{label:32} {fig[key]!s:>12}"
        if a.compare_pipecat:
            pk = "pipecat_" + key
            ratio = float(fig[key]) / float(fig[pk]) if float(fig[pk]) else float("nan")
            line += f" {fig[pk]!s:>16} {ratio:>8.2f}"
        print(line)
    if a.baseline:
        print(f"\nagainst voiceflow at {a.baseline} (same run)")
        for label, key in rows:
            print(f"{label:32} {fig[key]!s:>12} {fig['baseline_' + key]!s:>16}")
    if a.metrics:
        print("\nPrometheus metrics (the per-call CallMetrics observer), alternating rounds, best of each")
        print(f"{'':32} {'without':>12} {'with':>12}")
        for label, key in (("throughput (frames/s)", "throughput_fps"), ("cost per hop (us)", "per_hop_us")):
            print(f"{label:32} {fig['metrics_off_' + key]!s:>12} {fig['metrics_on_' + key]!s:>12}")
        print(f"metrics cost: {fig['metrics_throughput_cost_pct']} % of throughput, "
              f"{fig['metrics_cost_per_hop_us']} us per hop")  # fmt: skip
    print(f"order preserved end to end: {fig['order_preserved']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
