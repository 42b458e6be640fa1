"""The README's example: a real WAV file through the graph; the CLI entry point."""

from __future__ import annotations

import wave
from pathlib import Path

from pipelines.example_wav import run_example
from voiceflow.cli import main
from voiceflow.commands.demo import EXAMPLE
from voiceflow.graphs import Collector, Graph, GraphRun, VirtualClock
from voiceflow.transports.local import WavFileSource, read_wav


async def test_example_pipeline_processes_the_shipped_wav(tmp_path: Path) -> None:
    out = tmp_path / "out.wav"
    report = await run_example(EXAMPLE, out)
    pcm, rate, _ = read_wav(EXAMPLE)
    assert report.frames["AudioRaw"] == -(-len(pcm) // (rate * 20 // 1000 * 2))
    assert report.frames["Start"] == report.frames["End"] == 1
    assert 1 <= len(report.segments) <= 5  # the spoken sentence, in one to a few voiced stretches
    first, last = report.segments[0], report.segments[-1]
    assert 0.3 < first[0] < 1.0 and 4.5 < last[1] < 5.9  # speech sits between the padded silences
    assert read_wav(out)[0] == pcm  # recorded exactly what was played, no sample lost


async def test_wav_source_paces_in_virtual_real_time() -> None:
    clock = VirtualClock()
    sink = Collector(name="sink")
    run = GraphRun(Graph("g").chain(WavFileSource(EXAMPLE, realtime=True), sink), clock=clock)
    await run.start()
    await clock.advance(1.0)
    assert 49 <= len(sink.frames) - 1 <= 52  # ~50 frames of 20 ms in one second (minus Start)
    await clock.run_until_idle()
    await run.wait(timeout=5)


async def test_unreadable_wav_is_a_clear_error_and_the_run_ends(tmp_path: Path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\x00\x00not a wav at all")
    eight_bit = tmp_path / "8bit.wav"
    with wave.open(str(eight_bit), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(1)
        w.setframerate(8000)
        w.writeframes(b"\x80" * 100)
    for path, expected in ((bad, "not a readable WAV"), (eight_bit, "need 16-bit PCM WAV, got 8-bit")):
        run = GraphRun(Graph("g").chain(WavFileSource(path), Collector(name="sink")), clock=VirtualClock())
        await run.start()
        await run.wait(timeout=5)
        assert expected in run.errors[0].message


def test_cli_help_lists_commands(capsys: object) -> None:
    assert main([]) == 0
    assert main(["demo", "--out", "/dev/null"]) == 0
