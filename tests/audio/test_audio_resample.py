"""soxr stream resampling: telephone-band SNR, chunked == one-shot, and the Resample processor."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from voiceflow.frames import AudioRaw, TTSAudio
from voiceflow.graphs import Collector, Graph, GraphRun, VirtualClock
from voiceflow.processors.audio.codecs import float32_to_pcm16, pcm16_to_float32
from voiceflow.processors.audio.errors import AudioFormatError
from voiceflow.processors.audio.resample import Resample, StreamResampler

#: measured: tones in the telephone band come back bit-identical (SNR unbounded); this is the bound
SNR_BOUND_DB = 60.0
#: measured: chunked and one-shot outputs are identical; the stated tolerance is 1 LSB
CHUNK_TOLERANCE_LSB = 1


def tone(rate: int, freq: float, secs: float = 1.0, amp: float = 0.5) -> bytes:
    t = np.arange(int(rate * secs)) / rate
    return float32_to_pcm16(amp * np.sin(2 * np.pi * freq * t))


def samples(pcm: bytes) -> npt.NDArray[np.float64]:
    return np.frombuffer(pcm, dtype="<i2").astype(np.float64)


def chunked(resampler: StreamResampler, pcm: bytes, sizes: list[int]) -> bytes:
    out, at, i = [], 0, 0
    while at < len(pcm):
        n = sizes[i % len(sizes)] * 2
        out.append(resampler.process(pcm[at : at + n]))
        at, i = at + n, i + 1
    out.append(resampler.flush())
    return b"".join(out)


@pytest.mark.parametrize("freq", [300.0, 1000.0, 2500.0, 3400.0])
def test_sine_through_8k_16k_8k_keeps_snr(freq: float) -> None:
    pcm = tone(8000, freq, secs=1.0)
    up, down = StreamResampler(8000, 16000), StreamResampler(16000, 8000)
    out = b"".join(down.process(up.process(pcm[i : i + 320])) for i in range(0, len(pcm), 320))
    out += down.process(up.flush(), last=True)
    x, y = samples(pcm), samples(out)
    assert y.size == x.size  # soxr streams are delay-compensated: same length, aligned
    core = slice(80, x.size - 80)  # the filter's start-up and tail
    err = np.sum((y[core] - x[core]) ** 2)
    snr = 10 * np.log10(np.sum(x[core] ** 2) / max(err, 1e-12))
    assert snr > SNR_BOUND_DB, f"{freq} Hz: SNR {snr:.1f} dB"


@pytest.mark.parametrize(
    ("rate_in", "rate_out"),
    [(8000, 16000), (16000, 8000), (22050, 16000), (24000, 8000), (48000, 16000), (16000, 48000)],
)
def test_chunked_resampling_equals_one_shot(rate_in: int, rate_out: int) -> None:
    rng = np.random.default_rng(rate_in + rate_out)
    pcm = float32_to_pcm16(pcm16_to_float32(tone(rate_in, 440.0)) + 0.1 * rng.standard_normal(rate_in))
    one_shot = samples(StreamResampler(rate_in, rate_out).process(pcm, last=True))
    sizes = [int(s) for s in rng.integers(1, 700, size=50)]  # odd sizes, single samples included
    pieces = samples(chunked(StreamResampler(rate_in, rate_out), pcm, [1, *sizes]))
    assert pieces.size == one_shot.size == rate_out
    assert np.max(np.abs(pieces - one_shot)) <= CHUNK_TOLERANCE_LSB  # no clicks at chunk edges


def test_browser_float32_48k_to_int16_16k() -> None:
    t = np.arange(48000) / 48000
    x = (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    rs = StreamResampler(48000, 16000)
    out = b"".join(rs.process_float32(x[i : i + 4800]) for i in range(0, x.size, 4800)) + rs.flush()
    y = samples(out)
    ref = 0.5 * np.sin(2 * np.pi * 1000 * np.arange(16000) / 16000) * 32768
    core = slice(100, 15900)
    snr = 10 * np.log10(np.sum(ref[core] ** 2) / np.sum((y[core] - ref[core]) ** 2))
    assert y.size == 16000 and snr > SNR_BOUND_DB


def test_float32_input_with_nan_is_rejected() -> None:
    x = np.zeros(480, dtype=np.float32)
    x[3] = np.nan
    with pytest.raises(AudioFormatError, match=r"NaN or infinity \(first at index 3\)"):
        StreamResampler(48000, 16000).process_float32(x)


def test_bad_rates_and_lengths_are_rejected() -> None:
    with pytest.raises(AudioFormatError, match="input sample rate 0 Hz"):
        StreamResampler(0, 16000)
    with pytest.raises(AudioFormatError, match="stray byte"):
        StreamResampler(8000, 16000).process(b"\x00\x00\x00")


async def test_resample_processor_matches_stream_resampler_and_flushes_on_end() -> None:
    pcm = tone(8000, 700.0, secs=0.5)
    sink = Collector(name="sink")
    g = Graph("t", inputs=[AudioRaw]).chain(Resample(16000, name="rs"), sink)
    async with GraphRun(g, clock=VirtualClock()) as run:
        for i in range(0, len(pcm), 320):
            await run.push(run.make(AudioRaw, audio=pcm[i : i + 320], sample_rate=8000))
    frames = sink.of(AudioRaw)
    assert all(f.sample_rate == 16000 for f in frames)  # type: ignore[attr-defined]
    got = b"".join(f.audio for f in frames)  # type: ignore[attr-defined]
    assert got == StreamResampler(8000, 16000).process(pcm, last=True)
    assert not run.errors


async def test_resample_processor_tts_per_utterance_and_passthrough() -> None:
    sink = Collector(name="sink")
    rs = Resample(8000, kinds=[TTSAudio], name="rs")
    g = Graph("t", inputs=[AudioRaw, TTSAudio]).chain(rs, sink)
    first, second = tone(22050, 500.0, 0.2), tone(22050, 900.0, 0.3)
    async with GraphRun(g, clock=VirtualClock()) as run:
        await run.push(run.make(AudioRaw, audio=tone(16000, 400.0, 0.02), sample_rate=16000))
        for uid, pcm in ((1, first), (2, second)):
            for i in range(0, len(pcm), 882):
                await run.push(
                    run.make(TTSAudio, audio=pcm[i : i + 882], sample_rate=22050, utterance_id=uid)
                )
    raw = sink.of(AudioRaw)
    assert len(raw) == 1 and raw[0].sample_rate == 16000  # type: ignore[attr-defined]  # not converted
    tts = sink.of(TTSAudio)
    by_utt = {
        uid: b"".join(f.audio for f in tts if f.utterance_id == uid)  # type: ignore[attr-defined]
        for uid in (1, 2)
    }
    # each utterance is flushed whole before the next starts: tails keep their own utterance id
    assert by_utt[1] == StreamResampler(22050, 8000).process(first, last=True)
    assert by_utt[2] == StreamResampler(22050, 8000).process(second, last=True)
    ids = [f.utterance_id for f in tts]  # type: ignore[attr-defined]
    assert ids == sorted(ids)


async def test_interrupt_drops_the_stale_agent_stream() -> None:
    sink = Collector(name="sink")
    rs = Resample(8000, kinds=[TTSAudio], name="rs")
    g = Graph("t", inputs=[TTSAudio]).chain(rs, sink)
    old, new = tone(16000, 500.0, 0.2), tone(16000, 800.0, 0.2)
    clock = VirtualClock()
    async with GraphRun(g, clock=clock) as run:
        await run.push(run.make(TTSAudio, audio=old[:3200], sample_rate=16000, utterance_id=1))
        await clock.advance(0)
        await rs.interrupt()  # barge-in: generation 1 starts
        await run.push(run.make(TTSAudio, audio=old[3200:], sample_rate=16000, utterance_id=1, generation=0))
        for i in range(0, len(new), 640):
            await run.push(run.make(TTSAudio, audio=new[i : i + 640], sample_rate=16000, utterance_id=2))
    fresh = b"".join(f.audio for f in sink.of(TTSAudio) if f.generation == 1)  # type: ignore[attr-defined]
    # the new reply is resampled from a clean filter state: no tail of the old one leaks into it
    assert fresh == StreamResampler(16000, 8000).process(new, last=True)
    assert all(f.utterance_id == 1 for f in sink.of(TTSAudio) if f.generation == 0)  # type: ignore[attr-defined]
