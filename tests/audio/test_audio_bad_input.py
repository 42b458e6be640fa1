"""Bad audio through a Resample -> VAD chain: an Error frame each, the frame skipped, the run goes on."""

from __future__ import annotations

import numpy as np
import pytest

from voiceflow.frames import AudioRaw, TTSAudio
from voiceflow.graphs import Collector, Graph, GraphRun, VirtualClock
from voiceflow.processors.audio.codecs import float32_to_pcm16, pcm16_to_float32
from voiceflow.processors.audio.errors import AudioFormatError
from voiceflow.processors.audio.resample import Resample, StreamResampler
from voiceflow.processors.audio.vad import VADProcessor


async def test_bad_frames_each_give_one_precise_error_and_good_audio_still_flows() -> None:
    sink = Collector(name="sink")
    g = Graph("t", inputs=[AudioRaw, TTSAudio]).chain(
        Resample(16000, kinds=[AudioRaw, TTSAudio], name="rs"), VADProcessor(name="vad"), sink
    )
    good = bytes(320)  # 20 ms of 8 kHz silence
    async with GraphRun(g, clock=VirtualClock()) as run:
        await run.push(run.make(AudioRaw, audio=good, sample_rate=8000))
        await run.push(run.make(AudioRaw, audio=good[:-1], sample_rate=8000))  # odd length
        await run.push(run.make(AudioRaw, audio=b"", sample_rate=8000))  # empty
        await run.push(run.make(AudioRaw, audio=good, sample_rate=1000))  # unsupported rate
        await run.push(run.make(AudioRaw, audio=good[:-2], sample_rate=8000, channels=2))  # torn stereo
        await run.push(run.make(TTSAudio, audio=good[:-1], sample_rate=22050))  # agent audio too
        for _ in range(10):
            await run.push(run.make(AudioRaw, audio=good, sample_rate=8000))
    by = [(e.processor, e.message) for e in run.errors]
    assert len(by) == 5 and all(p == "rs" for p, _ in by)
    msgs = [m for _, m in by]
    assert msgs[0] == (
        "AudioRaw: PCM16 payload of 319 bytes is not a whole number of 1-channel samples "
        "(2 bytes each; 1 stray byte(s))"
    )
    assert msgs[1] == "AudioRaw carries no audio (0 bytes)"
    assert msgs[2] == "AudioRaw sample rate 1000 Hz is outside the supported 4000..384000 Hz"
    assert "318 bytes is not a whole number of 2-channel samples" in msgs[3]
    assert msgs[4].startswith("TTSAudio: PCM16 payload of 319 bytes")
    # every good frame came through resampled; soxr's start-up delay is flushed at End
    out = sink.of(AudioRaw)
    assert all(f.sample_rate == 16000 for f in out)  # type: ignore[attr-defined]
    assert sum(f.num_samples for f in out) == 11 * 320  # type: ignore[attr-defined]
    assert run.cancel_reason is None  # drained normally, nothing fatal


def test_nan_in_float_audio_is_a_clear_error_not_silence() -> None:
    x = pcm16_to_float32(bytes(960))
    x[100] = np.nan
    with pytest.raises(AudioFormatError, match="NaN"):
        float32_to_pcm16(x)
    with pytest.raises(AudioFormatError, match="NaN"):
        StreamResampler(48000, 16000).process_float32(x)
    # a bad chunk leaves the stream usable
    rs = StreamResampler(48000, 16000)
    with pytest.raises(AudioFormatError):
        rs.process_float32(x)
    x[100] = 0.0
    assert len(rs.process_float32(x) + rs.flush()) == 160 * 2  # 480 samples at 48 kHz -> 160 at 16 kHz
