"""smart-turn v3.2: features as the reference extractor makes them, the pinned file, and its use.

The reference is ``transformers.WhisperFeatureExtractor(chunk_length=8)`` (the extractor
the model was trained with), on fixed clips: a recorded caller line, seeded noise, a
sweep, a clip shorter than the window and one longer than it.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import numpy as np
import pytest

from voiceflow.frames import AudioRaw, EndOfTurnScore, VoiceStarted, VoiceStopped
from voiceflow.graphs import Collector, Graph, GraphRun, MonotonicClock
from voiceflow.processors.audio.turn_audio import AudioTurnDetector
from voiceflow.services.turn.smart_turn import (
    SmartTurnModel,
    SmartTurnUnavailableError,
    default_model_path,
    last_window,
    turn_features,
)
from voiceflow.sim.speech import from_phone_line, read_wav, synthesize, to_phone_line

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "audio" / "caller_order.wav"
RATE = 16000


def caller_line() -> np.ndarray:
    pcm, rate = read_wav(EXAMPLE)
    assert rate == RATE
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0


def fixed_clips() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1234)
    t = np.arange(int(2.5 * RATE)) / RATE
    return {
        "caller line": caller_line(),
        "noise": (0.05 * rng.standard_normal(3 * RATE)).astype(np.float32),
        "sweep": (0.3 * np.sin(2 * np.pi * (100 + 1500 * t) * t)).astype(np.float32),
        "short": caller_line()[: RATE // 2],
        "long": np.concatenate([caller_line(), caller_line()]),  # 11.8 s: the last 8 s count
    }


@pytest.mark.parametrize("name", list(fixed_clips()))
def test_features_match_the_reference_extractor(name: str) -> None:
    from transformers import WhisperFeatureExtractor

    audio = fixed_clips()[name]
    reference = WhisperFeatureExtractor(chunk_length=8)(
        last_window(audio),
        sampling_rate=RATE,
        padding="max_length",
        max_length=8 * RATE,
        truncation=True,
        do_normalize=True,
        return_tensors="np",
    ).input_features[0]
    ours = turn_features(audio)
    assert ours.shape == reference.shape == (80, 800)
    # the filterbanks differ at their edges by a rounding: a pure sweep shows it most (6e-5)
    tolerance = 1e-4 if name == "sweep" else 5e-5
    assert float(np.abs(ours - reference).max()) < tolerance


def test_the_window_is_the_last_eight_seconds_padded_in_front() -> None:
    short = np.ones(RATE, dtype=np.float32)
    w = last_window(short)
    assert len(w) == 8 * RATE and w[: 7 * RATE].max() == 0 and w[-RATE:].min() == 1
    long = np.arange(10 * RATE, dtype=np.float32)
    assert last_window(long)[0] == 2 * RATE


def test_a_missing_model_names_the_set_up_step(tmp_path: Path) -> None:
    with pytest.raises(SmartTurnUnavailableError, match=r"scripts/fetch_smart_turn\.sh"):
        SmartTurnModel(tmp_path / "nothing.onnx")


def test_a_model_that_is_not_the_pinned_one_is_refused(tmp_path: Path) -> None:
    copy = tmp_path / "smart-turn.onnx"
    shutil.copyfile(default_model_path(), copy)
    with copy.open("r+b") as f:
        f.seek(1000)
        byte = f.read(1)
        f.seek(1000)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(SmartTurnUnavailableError, match="sha256"):
        SmartTurnModel(copy)


def test_a_finished_question_sounds_finished_even_over_the_phone() -> None:
    model = SmartTurnModel.shared()
    pcm = synthesize("What time do you close on Saturday?", RATE)
    line = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
    tail = np.zeros(RATE // 4, dtype=np.float32)  # the VAD's stop window
    wide = np.concatenate([line, tail])
    pcm = (wide * 32767).astype("<i2").tobytes()
    phone = np.frombuffer(from_phone_line(to_phone_line(pcm, RATE), RATE), dtype="<i2") / 32768.0
    assert model.probability(wide) > 0.5
    assert model.probability(phone.astype(np.float32)) > 0.5
    assert SmartTurnModel.shared() is model  # one session per process


async def test_detector_scores_each_pause_of_phone_audio() -> None:
    line = synthesize("What time do you close on Saturday?", RATE) + bytes(RATE // 2)
    phone = from_phone_line(to_phone_line(line, RATE))  # 8 kHz PCM16, as the Twilio path carries it
    sink = Collector(name="sink")
    detector = AudioTurnDetector(SmartTurnModel.shared(), name="turn")
    g = Graph("t", inputs=[AudioRaw, VoiceStarted, VoiceStopped]).chain(detector, sink)
    async with GraphRun(g, clock=MonotonicClock()) as run:
        for i in range(0, len(phone), 320):
            await run.push(run.make(AudioRaw, audio=phone[i : i + 320], sample_rate=8000))
            if i == 8000:  # the VAD's onset report, 0.5 s in
                await run.push(run.make(VoiceStarted))
        await run.push(run.make(VoiceStopped, last_voiced_at=12.5))
        for _ in range(1500):  # the model runs on a real thread: up to 30 s on a busy machine
            if sink.of(EndOfTurnScore):
                break
            await asyncio.sleep(0.02)
    (score,) = sink.of(EndOfTurnScore)
    assert score.last_voiced_at == 12.5 and score.probability > 0.5
    assert len(sink.of(AudioRaw)) == len(range(0, len(phone), 320))  # audio passes through


async def test_detector_scores_at_the_pause_hint_and_repeats_the_score_for_the_stop() -> None:
    from voiceflow.frames import VoicePaused

    line = synthesize("What time do you close on Saturday?", RATE) + bytes(RATE * 12 // 100)
    phone = from_phone_line(to_phone_line(line, RATE))
    sink = Collector(name="sink")
    detector = AudioTurnDetector(SmartTurnModel.shared(), name="turn")
    g = Graph("t", inputs=[AudioRaw, VoiceStarted, VoiceStopped, VoicePaused]).chain(detector, sink)
    async with GraphRun(g, clock=MonotonicClock()) as run:
        for i in range(0, len(phone), 320):
            await run.push(run.make(AudioRaw, audio=phone[i : i + 320], sample_rate=8000))
            if i == 8000:
                await run.push(run.make(VoiceStarted))
        await run.push(run.make(VoicePaused, last_voiced_at=12.4))
        await run.push(run.make(VoiceStopped, last_voiced_at=12.5))  # before the hint's score is done
        for _ in range(1500):
            if len(sink.of(EndOfTurnScore)) == 2:
                break
            await asyncio.sleep(0.02)
    hint, stop = sink.of(EndOfTurnScore)
    assert (hint.last_voiced_at, stop.last_voiced_at) == (12.4, 12.5)
    assert hint.probability == stop.probability > 0.5 and detector.scored == 1  # one inference
