"""``voiceflow demo``: run the example WAV pipeline and print what flowed."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "audio" / "caller_order.wav"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("demo", help="run the example WAV pipeline end to end and print what flowed")
    p.add_argument("--wav", type=Path, default=EXAMPLE, help="16-bit PCM WAV to play into the graph")
    p.add_argument("--out", type=Path, default=Path(".voiceflow/demo/out.wav"), help="where to record")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pipelines.example_wav import run_example

    report = asyncio.run(run_example(args.wav, args.out))
    print(f"pipeline: wav_in -> level -> wav_out   ({args.wav})")
    print(f"{'frame type':24} {'count':>7}")
    for name, count in sorted(report.frames.items()):
        print(f"{name:24} {count:>7}")
    print(f"audio: {report.audio_seconds:.2f} s, peak {report.peak_dbfs:.1f} dBFS")
    for i, (a, b) in enumerate(report.segments, 1):
        print(f"speech segment {i}: {a:.2f} s -> {b:.2f} s")
    print(f"recorded to {report.out_path}")
    return 0
