"""G.711 (mu-law, A-law), PCM16 <-> float32 and the Twilio base64 payload helpers.

The G.711 codecs are table lookups: a 65 536-entry encode table indexed by the
int16 sample viewed as uint16, and a 256-entry decode table. The tables are
computed once, vectorized, from the ITU/Sun reference algorithm (the one the C
``audioop`` module implements), so every value is bit-exact with it. PCM16 is
signed 16-bit little-endian throughout the project.
"""

from __future__ import annotations

import base64
import binascii

import numpy as np
import numpy.typing as npt

from voiceflow.processors.audio.errors import AudioFormatError

__all__ = [
    "AudioFormatError",
    "alaw_decode",
    "alaw_encode",
    "check_pcm16",
    "float32_to_pcm16",
    "pcm16_to_float32",
    "pcm16_to_ulaw_b64",
    "ulaw_b64_to_pcm16",
    "ulaw_decode",
    "ulaw_encode",
]

PCM16 = np.dtype("<i2")
_ULAW_SEG_END = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF], dtype=np.int32)
_ALAW_SEG_END = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF], dtype=np.int32)


def _every_int16() -> npt.NDArray[np.int32]:
    """All 65 536 int16 values, ordered by their uint16 bit pattern (the table index)."""
    return np.arange(65536, dtype=np.uint32).astype(np.uint16).view(np.int16).astype(np.int32)


def _build_ulaw_encode() -> npt.NDArray[np.uint8]:
    pcm = _every_int16() >> 2  # 14-bit
    mask = np.where(pcm < 0, 0x7F, 0xFF)
    mag = np.minimum(np.abs(pcm), 8159) + (0x84 >> 2)
    seg = np.searchsorted(_ULAW_SEG_END, mag, side="left")  # first seg with mag <= end
    code = np.where(seg >= 8, 0x7F, (seg << 4) | ((mag >> (seg + 1)) & 0xF))
    return ((code ^ mask) & 0xFF).astype(np.uint8)


def _build_ulaw_decode() -> npt.NDArray[np.int16]:
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    t = (((u & 0x0F) << 3) + 0x84) << ((u & 0x70) >> 4)
    return np.where(u & 0x80, 0x84 - t, t - 0x84).astype(np.int16)


def _build_alaw_encode() -> npt.NDArray[np.uint8]:
    pcm = _every_int16() >> 3  # 13-bit
    negative = pcm < 0
    mask = np.where(negative, 0x55, 0xD5)
    mag = np.where(negative, -pcm - 1, pcm)
    seg = np.searchsorted(_ALAW_SEG_END, mag, side="left")
    quant = np.where(seg < 2, mag >> 1, mag >> np.maximum(seg, 1)) & 0x0F
    code = np.where(seg >= 8, 0x7F, (seg << 4) | quant)
    return ((code ^ mask) & 0xFF).astype(np.uint8)


def _build_alaw_decode() -> npt.NDArray[np.int16]:
    a = np.arange(256, dtype=np.int32) ^ 0x55
    seg = (a & 0x70) >> 4
    t = (a & 0x0F) << 4
    t = np.where(seg == 0, t + 8, t + 0x108)
    t = np.where(seg >= 2, t << np.maximum(seg - 1, 0), t)
    return np.where(a & 0x80, t, -t).astype(np.int16)


ULAW_ENCODE = _build_ulaw_encode()
ULAW_DECODE = _build_ulaw_decode().astype(PCM16)
ALAW_ENCODE = _build_alaw_encode()
ALAW_DECODE = _build_alaw_decode().astype(PCM16)
for _table in (ULAW_ENCODE, ULAW_DECODE, ALAW_ENCODE, ALAW_DECODE):
    _table.setflags(write=False)


def check_pcm16(pcm: bytes, channels: int = 1) -> None:
    """Raise ``AudioFormatError`` unless ``pcm`` holds whole 16-bit samples for every channel."""
    if channels < 1:
        raise AudioFormatError(f"channel count must be >= 1, got {channels}")
    frame_bytes = 2 * channels
    if len(pcm) % frame_bytes:
        raise AudioFormatError(
            f"PCM16 payload of {len(pcm)} bytes is not a whole number of {channels}-channel samples "
            f"({frame_bytes} bytes each; {len(pcm) % frame_bytes} stray byte(s))"
        )


def ulaw_encode(pcm16: bytes) -> bytes:
    """PCM16 LE -> G.711 mu-law, one byte per sample."""
    check_pcm16(pcm16)
    return ULAW_ENCODE[np.frombuffer(pcm16, dtype="<u2")].tobytes()


def ulaw_decode(data: bytes) -> bytes:
    """G.711 mu-law -> PCM16 LE."""
    return np.take(ULAW_DECODE, np.frombuffer(data, dtype=np.uint8)).tobytes()


def alaw_encode(pcm16: bytes) -> bytes:
    """PCM16 LE -> G.711 A-law, one byte per sample."""
    check_pcm16(pcm16)
    return ALAW_ENCODE[np.frombuffer(pcm16, dtype="<u2")].tobytes()


def alaw_decode(data: bytes) -> bytes:
    """G.711 A-law -> PCM16 LE."""
    return np.take(ALAW_DECODE, np.frombuffer(data, dtype=np.uint8)).tobytes()


def pcm16_to_float32(pcm: bytes, channels: int = 1) -> npt.NDArray[np.float32]:
    """PCM16 LE -> float32 in [-1, 1): shape (n,) for mono, (n, channels) otherwise."""
    check_pcm16(pcm, channels)
    x = np.frombuffer(pcm, dtype=PCM16).astype(np.float32) * np.float32(1.0 / 32768.0)
    return x if channels == 1 else x.reshape(-1, channels)


def float32_to_pcm16(x: npt.ArrayLike) -> bytes:
    """Float audio in [-1, 1] -> PCM16 LE, clipping out-of-range values (exact inverse of
    ``pcm16_to_float32``). Non-finite samples raise ``AudioFormatError``: silence would hide a bug."""
    arr = np.asarray(x, dtype=np.float32)
    finite = np.isfinite(arr)
    if not finite.all():
        bad = np.flatnonzero(~finite.ravel())
        raise AudioFormatError(
            f"float audio holds {bad.size} non-finite sample(s) (NaN or infinity), first at index {bad[0]}"
        )
    scaled = np.rint(arr.ravel() * np.float32(32768.0))
    return np.clip(scaled, -32768, 32767).astype(PCM16).tobytes()


def ulaw_b64_to_pcm16(payload: str) -> bytes:
    """A Twilio Media Streams ``media.payload`` (base64 mu-law, 8 kHz) -> PCM16 LE."""
    try:
        raw = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise AudioFormatError(f"Twilio media payload is not valid base64: {exc}") from None
    return ulaw_decode(raw)


def pcm16_to_ulaw_b64(pcm: bytes) -> str:
    """PCM16 LE (8 kHz) -> base64 mu-law, the payload of a Twilio ``media`` message."""
    return base64.b64encode(ulaw_encode(pcm)).decode("ascii")
