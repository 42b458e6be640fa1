"""Re-chunking a PCM16 byte stream into fixed-duration frames.

Transports deliver audio in whatever pieces the network produced; telephony wants
20 ms frames, WebRTC 10 or 20 ms, the browser 100 ms buffers. ``Rechunker``
keeps the remainder (even a single odd byte) across calls, so concatenating
what it returns gives back exactly the bytes it was given: nothing lost or
duplicated at chunk boundaries.
"""

from __future__ import annotations

from voiceflow.processors.audio.errors import AudioFormatError

__all__ = ["Rechunker", "frame_bytes"]


def frame_bytes(sample_rate: int, frame_ms: float, channels: int = 1) -> int:
    """Bytes in one PCM16 frame; the frame must hold a whole number of samples."""
    if sample_rate <= 0:
        raise AudioFormatError(f"sample rate must be positive, got {sample_rate}")
    if channels < 1:
        raise AudioFormatError(f"channel count must be >= 1, got {channels}")
    if frame_ms <= 0:
        raise AudioFormatError(f"frame duration must be positive, got {frame_ms} ms")
    samples = sample_rate * frame_ms / 1000.0
    if abs(samples - round(samples)) > 1e-9:
        raise AudioFormatError(
            f"{frame_ms} ms at {sample_rate} Hz is {samples:g} samples, not a whole number"
        )
    return round(samples) * 2 * channels


class Rechunker:
    """Turns arbitrary byte chunks into exact ``frame_ms`` PCM16 frames."""

    def __init__(self, sample_rate: int, frame_ms: float, channels: int = 1) -> None:
        self.sample_rate = sample_rate
        self.frame_ms = frame_ms
        self.channels = channels
        self.frame_size = frame_bytes(sample_rate, frame_ms, channels)
        self._buf = bytearray()
        #: bytes dropped by ``flush`` because they did not make a whole sample
        self.discarded_bytes = 0

    @property
    def pending(self) -> int:
        """Bytes held back, waiting for the rest of their frame."""
        return len(self._buf)

    def push(self, chunk: bytes) -> list[bytes]:
        """Add ``chunk``; return every complete frame now available (possibly none)."""
        buf = self._buf
        buf += chunk
        size = self.frame_size
        count = len(buf) // size
        if not count:
            return []
        view = bytes(buf[: count * size])
        del buf[: count * size]
        return [view[i * size : (i + 1) * size] for i in range(count)]

    def flush(self, pad: bool = False) -> bytes:
        """Return what is left: whole samples only, zero-padded to a full frame when ``pad``.

        A trailing partial sample (an odd byte) cannot be played; it is dropped and
        counted in ``discarded_bytes``. Returns ``b""`` when nothing is left.
        """
        sample = 2 * self.channels
        whole = len(self._buf) - len(self._buf) % sample
        self.discarded_bytes += len(self._buf) - whole
        rest = bytes(self._buf[:whole])
        self._buf.clear()
        if pad and rest:
            rest += bytes(self.frame_size - len(rest))
        return rest
