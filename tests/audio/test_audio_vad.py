"""Silero VAD on real synthesized speech with inserted silences: boundaries within +-60 ms."""

from __future__ import annotations

import asyncio
import functools

import numpy as np
import pytest

from tests.audio.audio_speech_data import Dialogue, dialogue
from voiceflow.frames import (
    AudioRaw,
    Error,
    UserStartedSpeaking,
    UserStoppedSpeaking,
    VoiceStarted,
    VoiceStopped,
)
from voiceflow.graphs import Collector, Graph, GraphRun, VirtualClock
from voiceflow.processors import on
from voiceflow.processors.audio.codecs import ulaw_decode, ulaw_encode
from voiceflow.processors.audio.turns import Endpointer
from voiceflow.processors.audio.vad import SileroVAD, SpeechSegmenter, VADProcessor, VADStream

TOLERANCE_S = 0.060


@functools.cache
def speech(rate: int) -> Dialogue:
    return dialogue(rate)


def segment(audio: bytes, rate: int) -> list[tuple[str, float]]:
    """Boundary events (kind, seconds) from feeding ``audio`` in 20 ms frames."""
    stream = VADStream(rate)
    seg = SpeechSegmenter(stream.window, rate)
    events: list[tuple[str, float]] = []
    step = rate // 50 * 2
    for i in range(0, len(audio), step):
        for w in stream.process(audio[i : i + step]):
            if (e := seg.update(w)) is not None:
                events.append((e.kind, e.sample / rate))
    return events


def truth(d: Dialogue) -> list[tuple[str, float]]:
    return [(k, x / d.rate) for a, b in d.spans for k, x in (("start", a), ("stop", b))]


def assert_close(events: list[tuple[str, float]], expected: list[tuple[str, float]]) -> None:
    assert [k for k, _ in events] == [k for k, _ in expected]
    errors = [round(got - want, 3) for (_, got), (_, want) in zip(events, expected, strict=True)]
    assert max(abs(e) for e in errors) <= TOLERANCE_S, f"boundary errors (s): {errors}"


@pytest.mark.parametrize("rate", [16000, 8000])
def test_boundaries_on_synthesized_speech(rate: int) -> None:
    d = speech(rate)
    assert_close(segment(d.audio.tobytes(), rate), truth(d))


def test_boundaries_survive_a_mulaw_phone_line_with_line_noise() -> None:
    d = speech(8000)
    noise = np.random.default_rng(7).normal(0, 8, d.audio.size)  # about -72 dBFS hiss
    line = np.clip(d.audio + noise, -32768, 32767).astype("<i2").tobytes()
    assert_close(segment(ulaw_decode(ulaw_encode(line)), 8000), truth(d))


def test_min_volume_gates_quiet_speech() -> None:
    d = speech(16000)
    quiet = (d.audio.astype(np.float64) * 10 ** (-40 / 20)).astype("<i2").tobytes()  # 40 dB down

    def events(min_volume_dbfs: float) -> list[str]:
        stream = VADStream(16000)
        seg = SpeechSegmenter(stream.window, 16000, min_volume_dbfs=min_volume_dbfs)
        found = (seg.update(w) for w in stream.process(quiet))
        return [e.kind for e in found if e is not None]

    assert events(-90.0) == ["start", "stop"] * 3  # Silero still hears it...
    assert events(-40.0) == []  # ...but it is below the minimum volume


def test_one_session_shared_state_per_stream() -> None:
    d = speech(16000)
    audio = d.audio.tobytes()
    a, b = VADStream(16000), VADStream(16000)
    assert a.model is b.model is SileroVAD.shared()
    # interleaving two streams on the shared session gives each exactly its solo result
    half = len(audio) // 2 // 640 * 640
    other = audio[half:] + audio[:half]
    got_a, got_b = [], []
    for i in range(0, len(audio), 640):
        got_a += a.process(audio[i : i + 640])
        got_b += b.process(other[i : i + 640])
    solo = VADStream(16000).process(audio)
    assert [w.probability for w in got_a] == pytest.approx([w.probability for w in solo], abs=1e-6)
    assert [w.end_sample for w in got_a] == [w.end_sample for w in solo]


async def test_processor_events_in_order_with_clock_times() -> None:
    d = speech(16000)
    audio, rate = d.audio.tobytes(), d.rate
    sink = Collector(name="sink")
    g = Graph("t", inputs=[AudioRaw]).chain(VADProcessor(name="vad"), sink)
    t0, frame = 100.0, 640
    async with GraphRun(g, clock=VirtualClock(t0)) as run:
        for n, i in enumerate(range(0, len(audio), frame)):
            # ts = arrival time of the frame's last sample, as a transport stamps it
            ts = t0 + (n + 1) * frame / 2 / rate
            await run.push(run.make(AudioRaw, audio=audio[i : i + frame], sample_rate=rate, ts=ts))
    assert not run.errors
    kinds = [type(f).__name__ for f in sink.frames if not isinstance(f, AudioRaw)]
    assert kinds[1:-1] == ["VoiceStarted", "VoiceStopped"] * 3  # Start ... End around
    # audio is forwarded unchanged and complete
    assert b"".join(f.audio for f in sink.of(AudioRaw)) == audio  # type: ignore[attr-defined]
    # events sit right after the audio in which they were decided
    heard = 0
    starts, stops = [], []
    for f in sink.frames:
        if isinstance(f, AudioRaw):
            heard += f.num_samples
        elif isinstance(f, VoiceStarted):
            starts.append(heard / rate)
        elif isinstance(f, VoiceStopped):
            stops.append(heard / rate)
            assert f.last_voiced_at is not None
    for (a, b), s, e, stop in zip(d.spans, starts, stops, sink.of(VoiceStopped), strict=True):
        # decided after ~start_secs of speech, and after the stop window of silence
        assert a / rate + 0.2 - TOLERANCE_S <= s <= a / rate + 0.2 + 0.064 + TOLERANCE_S
        assert b / rate + 0.25 - TOLERANCE_S <= e <= b / rate + 0.25 + 0.064 + TOLERANCE_S
        assert abs(stop.last_voiced_at - (t0 + b / rate)) <= TOLERANCE_S  # type: ignore[attr-defined]


async def test_bad_frames_error_and_the_run_goes_on() -> None:
    sink = Collector(name="sink")
    g = Graph("t", inputs=[AudioRaw]).chain(VADProcessor(name="vad"), sink)
    good = bytes(640)
    async with GraphRun(g, clock=VirtualClock()) as run:
        await run.push(run.make(AudioRaw, audio=b"\x01\x02\x03", sample_rate=16000))
        await run.push(run.make(AudioRaw, audio=b"", sample_rate=16000))
        await run.push(run.make(AudioRaw, audio=good, sample_rate=44100))
        await run.push(run.make(AudioRaw, audio=good, sample_rate=0))
        await run.push(run.make(AudioRaw, audio=good, sample_rate=16000))
    messages = [e.message for e in run.errors]
    assert all(isinstance(e, Error) and e.processor == "vad" for e in run.errors)
    assert len(messages) == 4
    assert "3 bytes is not a whole number" in messages[0] and "1 stray byte" in messages[0]
    assert "carries no audio" in messages[1]
    assert "44100 Hz" in messages[2] and "Resample(16000)" in messages[2]
    assert "sample rate 0 Hz is outside" in messages[3]
    # malformed frames are skipped; the valid-but-unscorable 44.1 kHz frame is forwarded
    assert [f.sample_rate for f in sink.of(AudioRaw)] == [44100, 16000]  # type: ignore[attr-defined]


class SteppedVAD(VADProcessor):
    """Signals when each audio frame is fully handled (its inference runs on a worker thread)."""

    def __init__(self, *, name: str) -> None:
        super().__init__(name=name)
        self.handled = asyncio.Event()
        self.stops = 0

    @on(AudioRaw)
    async def audio(self, frame: AudioRaw) -> None:
        was_speaking = self.speaking
        await super().audio(frame)
        self.stops += was_speaking and not self.speaking
        self.handled.set()


async def test_vad_then_endpointer_on_real_speech_one_end_per_turn() -> None:
    """A ~0.45 s pause (a VAD stop) inside a turn is bridged; a ~1.2 s pause ends the turn."""
    d = dialogue(16000, gaps=(0.5, 0.25, 0.6, 0.9))
    pauses = [(d.spans[i + 1][0] - d.spans[i][1]) / d.rate for i in range(2)]
    assert 0.35 < pauses[0] < 0.6 and pauses[1] > 1.0
    audio, rate, frame = d.audio.tobytes(), d.rate, 640
    clock, sink = VirtualClock(0.0), Collector(name="sink")
    vad = SteppedVAD(name="vad")
    g = Graph("t", inputs=[AudioRaw]).chain(vad, Endpointer(name="ep"), sink)
    async with GraphRun(g, clock=clock) as run:
        for i in range(0, len(audio), frame):
            await clock.advance(frame / 2 / rate)  # real-time pacing on the virtual clock
            vad.handled.clear()
            await run.push(run.make(AudioRaw, audio=audio[i : i + frame], sample_rate=rate))
            await vad.handled.wait()  # the VAD's worker thread, not time: keeps the clock in step
        await clock.advance(2.0)
    ends = sink.of(UserStoppedSpeaking)
    assert vad.stops == 3  # the VAD saw three segments...
    assert len(sink.of(UserStartedSpeaking)) == len(ends) == 2  # ...the endpointer two turns
    # each turn ends at its last voiced audio (within tolerance), and 0.8 s later on the clock
    for end, (_, last) in zip(ends, [d.spans[1], d.spans[2]], strict=True):
        assert abs(end.last_voiced_at - last / rate) <= TOLERANCE_S  # type: ignore[attr-defined]
        assert end.ts - end.last_voiced_at == pytest.approx(0.8, abs=0.021)  # type: ignore[attr-defined]


def test_a_short_quiet_is_a_pause_hint_and_voice_after_it_a_resume() -> None:
    from voiceflow.processors.audio.vad import VADWindow

    seg = SpeechSegmenter(512, 16000, start_secs=0.064, stop_secs=0.25, pause_secs=0.1)
    end = 0

    def feed(voiced: bool, n: int) -> list[str]:
        nonlocal end
        kinds = []
        for _ in range(n):
            end += 512
            event = seg.update(VADWindow(0.9 if voiced else 0.05, -20.0, end))
            if event is not None:
                kinds.append(event.kind)
        return kinds

    assert feed(True, 10) == ["resume", "start"]  # a first voiced window, then the onset
    assert feed(False, 4) == ["pause"]  # 0.1 s of quiet (3 windows of 32 ms), before the stop
    assert feed(True, 3) == ["resume"]  # the voice came back: no stop
    assert feed(False, 10) == ["pause", "stop"]  # one hint per quiet run, then the stop
    assert feed(True, 1) == ["resume"]  # after the stop: voice may be starting again
    plain = SpeechSegmenter(512, 16000, start_secs=0.064, stop_secs=0.25)
    kinds = [plain.update(VADWindow(0.9 if i < 10 else 0.05, -20.0, 512 * (i + 1))) for i in range(20)]
    assert [k.kind for k in kinds if k is not None] == ["start", "stop"]  # no hints unless asked
