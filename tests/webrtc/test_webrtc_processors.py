"""WebRTCInput and WebRTCOutput inside a graph run on a virtual clock (the peer is not connected)."""

from __future__ import annotations

import asyncio
import fractions

import numpy as np
import pytest
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame

from voiceflow.core.processor import Passthrough
from voiceflow.frames import (
    AudioRaw,
    BotStartedSpeaking,
    BotStoppedSpeaking,
    Error,
    Frame,
    LLMToken,
    Metrics,
    PlayoutReport,
    TextToSpeak,
    Transcript,
    TTSAudio,
    UserStoppedSpeaking,
)
from voiceflow.graphs import Collector, Graph, GraphRun, VirtualClock
from voiceflow.processors import Processor
from voiceflow.transports.webrtc import WebRTCInput, WebRTCOutput, WebRTCPeer, frame_to_mono
from voiceflow.transports.webrtc.input import AudioFrameError


def tone(ms: int, rate: int, amplitude: float = 0.5, channels: int = 1) -> np.ndarray:
    t = np.arange(rate * ms // 1000) / rate
    mono = (np.sin(2 * np.pi * 440 * t) * amplitude * 32767).astype("<i2")
    return np.repeat(mono, channels) if channels > 1 else mono


# -- output ----------------------------------------------------------------------------------------
async def drain_track(peer: WebRTCPeer, clock: VirtualClock, frames: int) -> AudioFrame:
    """Play ``frames`` 20 ms frames as aiortc's sender would, on virtual time; returns the last."""
    for _ in range(frames):
        task = asyncio.ensure_future(peer.output_track.recv())
        while not task.done():
            await clock.advance(0.005)
    return task.result()


async def test_output_plays_reports_and_forwards_events() -> None:
    clock = VirtualClock()
    peer = WebRTCPeer("t1", clock=clock)
    peer.output_track.clock = clock
    upstream: list[Frame] = []
    src = Passthrough(name="src")
    graph = Graph("out", inputs=[TTSAudio, Transcript, TextToSpeak, LLMToken, Metrics, UserStoppedSpeaking])
    graph.chain(src, WebRTCOutput(peer))
    async with GraphRun(graph, clock=clock, on_upstream=lambda _p, f: upstream.append(f)) as run:
        await run.push(run.make(Transcript, text="where is my order", final=True))
        await run.push(run.make(UserStoppedSpeaking, last_voiced_at=clock.now()))
        await run.push(run.make(LLMToken, text="Let me"))
        await run.push(run.make(TextToSpeak, text="Let me check."))
        await clock.advance(0.25)  # the reply takes 250 ms to come
        audio = tone(200, 22050).tobytes()
        await run.push(run.make(TTSAudio, audio=audio, sample_rate=22050, utterance_id=4))
        await run.push(run.make(TTSAudio, audio=b"\x01", sample_rate=22050, utterance_id=4))  # bad: odd bytes
        await run.push(run.make(Metrics, values={"llm_ttft_ms": 12.5}, processor="llm"))
        await clock.advance(0)
        # resampled to 48 kHz; soxr holds a few ms of filter tail until the track runs dry
        assert 180 <= peer.output_track.buffered_ms <= 200
        await drain_track(peer, clock, 20)
        output = run.node("webrtc_out")
        events = peer.queued_events  # the channel never opened: everything is held, in order
    assert isinstance(output, WebRTCOutput)
    assert output.v2v.samples_ms and output.v2v.samples_ms[0] == pytest.approx(250, abs=6)
    kinds = [type(f) for f in upstream if not isinstance(f, PlayoutReport | Metrics)]
    assert kinds == [Error, BotStartedSpeaking, BotStoppedSpeaking]
    assert "stray byte" in next(f for f in upstream if isinstance(f, Error)).message
    reports = [f for f in upstream if isinstance(f, PlayoutReport)]
    assert reports[-1].utterance_id == 4 and reports[-1].finished
    assert reports[-1].played_ms == pytest.approx(200, abs=5)
    assert [f.values["v2v_ms"] for f in upstream if isinstance(f, Metrics)] == output.v2v.samples_ms
    assert events[:3] == [
        {"type": "transcript", "role": "user", "text": "where is my order", "final": True},
        {"type": "transcript", "role": "agent", "text": "Let me", "final": False, "delta": True},
        {"type": "transcript", "role": "agent", "text": "Let me check.", "final": True},
    ]
    assert {"type": "metrics", "processor": "llm", "values": {"llm_ttft_ms": 12.5}} in events
    latency = next(e for e in events if e["type"] == "latency")
    assert latency["turn"] == 1 and latency["v2v_ms"] == pytest.approx(250, abs=6)
    speaking = [e["active"] for e in events if e["type"] == "speaking"]
    assert speaking == [True, False]
    assert peer.closed  # the output's cleanup closed the connection


async def test_interrupt_empties_the_track_at_once() -> None:
    clock = VirtualClock()
    peer = WebRTCPeer("t2", clock=clock)
    peer.output_track.clock = clock
    upstream: list[Frame] = []
    src = Passthrough(name="src")
    graph = Graph("barge", inputs=[TTSAudio]).chain(src, WebRTCOutput(peer))
    async with GraphRun(graph, clock=clock, on_upstream=lambda _p, f: upstream.append(f)) as run:
        await run.push(
            run.make(TTSAudio, audio=tone(2000, 16000).tobytes(), sample_rate=16000, utterance_id=1)
        )
        await clock.advance(0)
        await drain_track(peer, clock, 10)  # 200 ms heard
        await src.interrupt()
        assert peer.output_track.buffered_ms == 0
        frame = await drain_track(peer, clock, 1)
        assert not frame.to_ndarray().any()  # the next frame is already silence
        await clock.advance(0)
        assert {"type": "interrupt"} in peer.queued_events
    reports = [f for f in upstream if isinstance(f, PlayoutReport)]
    assert reports[-1].played_ms == pytest.approx(200, abs=1) and not reports[-1].finished
    assert [type(f) for f in upstream if isinstance(f, BotStartedSpeaking | BotStoppedSpeaking)] == [
        BotStartedSpeaking,
        BotStoppedSpeaking,
    ]


# -- input -----------------------------------------------------------------------------------------
def make_frame(samples: np.ndarray, fmt: str, layout: str, rate: int = 48000, pts: int = 0) -> AudioFrame:
    frame = AudioFrame.from_ndarray(samples, format=fmt, layout=layout)
    frame.sample_rate = rate
    frame.pts = pts
    frame.time_base = fractions.Fraction(1, rate)
    return frame


def test_frame_to_mono_downmixes_packed_and_planar() -> None:
    left = np.full(960, 16384, dtype="<i2")
    right = np.full(960, -16384, dtype="<i2")
    packed = np.stack([left, right], axis=1).reshape(1, -1)
    assert np.allclose(frame_to_mono(make_frame(packed, "s16", "stereo")), 0.0)
    planar = np.stack([left, left]).astype(np.float32) / 32768
    assert np.allclose(frame_to_mono(make_frame(planar, "fltp", "stereo")), 0.5)
    with pytest.raises(AudioFrameError, match="unsupported sample format"):
        frame_to_mono(make_frame(np.zeros((1, 960), dtype=np.uint8), "u8", "mono"))


class FramesTrack(MediaStreamTrack):
    """A remote track that yields the given frames, then ends."""

    kind = "audio"

    def __init__(self, frames: list[AudioFrame]) -> None:
        super().__init__()
        self.frames = list(frames)

    async def recv(self) -> AudioFrame:
        if not self.frames:
            raise MediaStreamError
        return self.frames.pop(0)


async def test_input_turns_48k_stereo_into_16k_mono_20ms_frames() -> None:
    stereo = tone(1000, 48000, channels=2)
    frames = [
        make_frame(stereo[i : i + 1920].reshape(1, -1), "s16", "stereo", pts=i // 2)
        for i in range(0, len(stereo), 1920)
    ]
    frames.insert(10, make_frame(np.zeros((1, 960), dtype=np.uint8), "u8", "mono"))  # a bad one
    peer = WebRTCPeer("t3")
    peer.remote_audio = FramesTrack(frames)
    sink = Collector(name="sink")
    source: Processor = WebRTCInput(peer)
    async with GraphRun(Graph("in").chain(source, sink)) as run:
        for _ in range(200):
            if isinstance(source, WebRTCInput) and source.frames_in == len(frames):
                break
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.01)
    audio = sink.of(AudioRaw)
    assert all(isinstance(f, AudioRaw) and f.sample_rate == 16000 and f.channels == 1 for f in audio)
    assert all(len(f.audio) == 640 for f in audio[:-1])  # 20 ms at 16 kHz
    total = sum(f.duration for f in audio)
    assert 0.95 <= total <= 1.0
    x = np.frombuffer(b"".join(f.audio for f in audio), "<i2")[1600:-1600] / 32768
    assert np.sqrt(np.mean(x * x)) == pytest.approx(0.5 / np.sqrt(2), rel=0.05)
    assert [e.message for e in run.errors] == [
        "inbound WebRTC audio frame skipped: unsupported sample format 'u8' (1 so far)"
    ]


async def test_audio_waiting_for_room_is_dropped_when_interrupted() -> None:
    clock = VirtualClock()
    peer = WebRTCPeer("t4", clock=clock)
    track = peer.output_track
    track.clock = clock
    track.max_buffer_bytes = 48000 * 2 // 10  # 100 ms
    src = Passthrough(name="src")
    graph = Graph("full", inputs=[TTSAudio]).chain(src, WebRTCOutput(peer))
    async with GraphRun(graph, clock=clock) as run:
        for _ in range(2):
            await run.push(
                run.make(TTSAudio, audio=tone(200, 48000).tobytes(), sample_rate=48000, utterance_id=1)
            )
        await clock.advance(0)
        assert 150 <= track.buffered_ms <= 200  # the second chunk waits for room
        await src.interrupt()
        await clock.advance(0)
        assert track.buffered_ms == 0  # and is dropped, not played after the barge-in
