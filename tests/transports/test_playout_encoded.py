"""Encoded agent audio (``EncodedTTSAudio``) through ``PacedAudioOutput``, on a virtual clock.

A wire carrying the frame's codec (a Twilio stream and ``audio/pcmu``) gets the bytes as
they came, in 20 ms frames paced like PCM, with marks, playout reports and clear; any
other wire gets them decoded to PCM16.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.transports.test_playout import RecordingWire
from tests.transports.transport_helpers import UpstreamTap
from voiceflow.frames import EncodedTTSAudio, LLMResponseEnd, PlayoutReport
from voiceflow.graphs import Graph, GraphRun, VirtualClock
from voiceflow.processors.audio.codecs import ulaw_decode
from voiceflow.transports.playout import PacedAudioOutput

ULAW = bytes(np.random.default_rng(7).integers(0, 256, 8000, dtype=np.uint8)) + b"\x7f" * 8  # 1.001 s


class MulawWire(RecordingWire):
    codec = "audio/pcmu"

    async def send_encoded(self, data: bytes) -> None:
        self.sent.append((self.clock.now(), "encoded", data))


def _setup(wire: Any) -> tuple[Graph, UpstreamTap, PacedAudioOutput]:
    tap, out = UpstreamTap(), PacedAudioOutput(wire)
    return Graph("t", inputs=[EncodedTTSAudio, LLMResponseEnd]).chain(tap, out), tap, out


async def _send(run: GraphRun, data: bytes, utterance_id: int = 1) -> None:
    for i in range(0, len(data), 300):  # deltas that do not line up with 20 ms frames
        piece = data[i : i + 300]
        await run.push(
            run.make(
                EncodedTTSAudio, audio=piece, codec="audio/pcmu", sample_rate=8000, utterance_id=utterance_id
            )
        )
    await run.push(run.make(LLMResponseEnd))


async def test_mu_law_leaves_as_it_came_in_paced_20_ms_frames_with_marks() -> None:
    clock = VirtualClock()
    wire = MulawWire(clock)
    graph, tap, out = _setup(wire)
    async with GraphRun(graph, clock=clock) as run:
        await _send(run, ULAW)
        await clock.advance(1.5)
    frames = wire.of("encoded")
    assert not wire.of("audio")  # nothing decoded
    assert [len(f) for _, f in frames] == [160] * 51
    sent = b"".join(f for _, f in frames)
    assert sent[: len(ULAW)] == ULAW and set(sent[len(ULAW) :]) == {0xFF}  # mu-law silence pads
    writes = [t for t, _ in frames]
    assert writes[:5] == [0.0] * 5 and writes[5:40] == pytest.approx([0.02 * k for k in range(1, 36)])
    assert wire.of("mark")
    reports = [f for _, f in tap.of(PlayoutReport)]
    assert reports[-1].finished and reports[-1].played_ms == 20 * 51
    assert out.stats.frames_sent == 51


async def test_a_clear_stops_encoded_audio_and_reports_what_was_heard() -> None:
    clock = VirtualClock()
    wire = MulawWire(clock, echoes_marks=True)
    graph, tap, _out = _setup(wire)
    async with GraphRun(graph, clock=clock) as run:
        await _send(run, ULAW)
        await clock.advance(0.3)
        run.spawn(tap.interrupt())
        await clock.advance(0.5)
    assert [t for t, _ in wire.of("clear")] == [pytest.approx(0.3)]
    assert max(t for t, _ in wire.of("encoded")) <= 0.3
    cut = [f for _, f in tap.of(PlayoutReport) if f.mark == "clear"]
    assert len(cut) == 1 and cut[0].played_ms == pytest.approx(300, abs=20)


async def test_a_wire_without_the_codec_gets_it_decoded() -> None:
    clock = VirtualClock()
    wire = RecordingWire(clock)  # PCM16 at 8 kHz, no codec of its own
    graph, _tap, _out = _setup(wire)
    async with GraphRun(graph, clock=clock) as run:
        await _send(run, ULAW[:1600])
        await clock.advance(0.5)
    pcm = b"".join(a for _, a in wire.of("audio"))
    assert pcm[: 2 * 1600] == ulaw_decode(ULAW[:1600]) and len(wire.of("audio")) == 10
