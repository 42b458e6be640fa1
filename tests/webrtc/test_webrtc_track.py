"""The outbound track on a virtual clock: pacing, silence, playout events, barge-in."""

from __future__ import annotations

import asyncio
import fractions

import numpy as np
from av import AudioFrame

from voiceflow.graphs import VirtualClock
from voiceflow.transports.webrtc import OutboundAudioTrack

FRAME_BYTES = 960 * 2


def tone(ms: int, rate: int = 48000, amplitude: float = 0.5) -> bytes:
    t = np.arange(rate * ms // 1000) / rate
    return (np.sin(2 * np.pi * 440 * t) * amplitude * 32767).astype("<i2").tobytes()


async def pull(track: OutboundAudioTrack, clock: VirtualClock) -> AudioFrame:
    """One recv() as aiortc's sender would call it, moving virtual time to the frame's due time."""
    task = asyncio.ensure_future(track.recv())
    await clock.advance(0)
    while not task.done():
        await clock.advance(0.001)
    return task.result()


def pcm(frame: AudioFrame) -> bytes:
    return bytes(frame.to_ndarray().astype("<i2").tobytes())


async def test_recv_is_paced_by_the_clock_with_proper_timestamps() -> None:
    clock = VirtualClock()
    track = OutboundAudioTrack(clock=clock)
    first = await pull(track, clock)
    assert clock.now() == 0.0
    task = asyncio.ensure_future(track.recv())
    await clock.advance(0.019)
    assert not task.done()  # the second frame is due 20 ms after the first
    await clock.advance(0.001)
    second = task.result()
    for i, frame in enumerate((first, second)):
        assert frame.samples == 960 and frame.sample_rate == 48000
        assert frame.format.name == "s16" and len(frame.layout.channels) == 1
        assert frame.pts == 960 * i and frame.time_base == fractions.Fraction(1, 48000)
    assert pcm(first) == bytes(FRAME_BYTES)  # idle: silence, never a stall
    assert track.frames_sent == 2 and track.audio_frames_sent == 0


async def test_a_stalled_loop_does_not_make_the_track_burst() -> None:
    clock = VirtualClock()
    track = OutboundAudioTrack(clock=clock)
    await pull(track, clock)
    await clock.advance(1.0)  # the event loop was busy for a second
    late = asyncio.ensure_future(track.recv())
    await clock.advance(0)
    assert late.done()  # the late frame goes out at once...
    following = asyncio.ensure_future(track.recv())
    await clock.advance(0.019)
    assert not following.done()  # ...and the next is paced from now, not from the old schedule
    await clock.advance(0.002)
    assert following.done() and following.result().pts == 2 * 960


async def test_playout_events_follow_what_was_handed_out() -> None:
    clock = VirtualClock()
    track = OutboundAudioTrack(clock=clock, stop_after_ms=60, report_every_ms=100)
    audio = tone(110)  # 5.5 frames
    track.enqueue(audio, utterance_id=7)
    assert track.buffered_ms == 110
    out = b"".join([pcm(await pull(track, clock)) for _ in range(6)])
    assert out[: len(audio)] == audio and out[len(audio) :] == bytes(6 * FRAME_BYTES - len(audio))
    events = await track.next_events()
    assert [(e.kind, e.utterance_id) for e in events] == [("started", 7), ("began", 7), ("progress", 7)]
    assert events[0].at == 0.0 and events[2].played_ms == 100.0
    for _ in range(3):  # three idle frames (60 ms) end the utterance
        await pull(track, clock)
    events = await track.next_events()
    assert [(e.kind, e.played_ms) for e in events] == [("finished", 110.0), ("stopped", 110.0)]
    assert not track.speaking and track.audio_frames_sent == 6


async def test_next_utterance_finishes_the_previous_without_a_gap() -> None:
    clock = VirtualClock()
    track = OutboundAudioTrack(clock=clock, report_every_ms=1000)
    track.enqueue(tone(30), 1)
    track.enqueue(tone(30, amplitude=0.25), 2)
    frames = [pcm(await pull(track, clock)) for _ in range(3)]
    assert b"".join(frames) == tone(30) + tone(30, amplitude=0.25)
    events = await track.next_events()
    assert [(e.kind, e.utterance_id, e.played_ms) for e in events] == [
        ("started", 1, 0.0),
        ("began", 1, 0.0),
        ("finished", 1, 30.0),
        ("began", 2, 0.0),
    ]


async def test_clear_drops_buffered_audio_at_once() -> None:
    clock = VirtualClock()
    track = OutboundAudioTrack(clock=clock)
    track.enqueue(tone(1000), 3)
    for _ in range(5):
        await pull(track, clock)
    track.clear()
    assert track.buffered_ms == 0
    assert pcm(await pull(track, clock)) == bytes(FRAME_BYTES)  # the very next frame is silent
    events = await track.next_events()
    assert [(e.kind, e.played_ms) for e in events] == [
        ("started", 0.0),
        ("began", 0.0),
        ("interrupted", 100.0),
        ("stopped", 100.0),
    ]


async def test_buffer_bound_applies_back_pressure() -> None:
    clock = VirtualClock()
    track = OutboundAudioTrack(clock=clock, max_buffer_s=0.05)
    track.enqueue(tone(60), 1)
    waiter = asyncio.ensure_future(track.wait_room())
    await clock.advance(0)
    assert not waiter.done()
    await pull(track, clock)  # 40 ms left: below the bound
    await clock.advance(0)
    assert waiter.done()


async def test_stopped_track_refuses_recv() -> None:
    track = OutboundAudioTrack(clock=VirtualClock())
    track.enqueue(tone(20), 1)
    track.stop()
    try:
        await track.recv()
    except Exception as exc:
        assert type(exc).__name__ == "MediaStreamError"
    else:
        raise AssertionError("recv on a stopped track must raise MediaStreamError")
    assert track.buffered_ms == 0
