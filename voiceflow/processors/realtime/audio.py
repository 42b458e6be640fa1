"""Caller audio to a Realtime socket's input format and its output back to frames' PCM16.

``audio/pcmu``: 8 kHz mu-law (a phone call's own encoding); ``audio/pcm``: PCM16 at
24 kHz. The input side keeps one stateful soxr stream per input rate (QQ: a few
samples of delay per 20 ms, see ``transports.websocket.input``); the output side
decodes mu-law with the numpy tables and leaves resampling to the output transport.
"""

from __future__ import annotations

from voiceflow.processors.audio.codecs import ulaw_decode, ulaw_encode
from voiceflow.processors.audio.resample import StreamResampler
from voiceflow.services.realtime.engine import FORMAT_RATES

__all__ = ["InputEncoder", "decode_output"]


class InputEncoder:
    """PCM16 mono at any rate → bytes in ``fmt``, with the ms of audio each call carried."""

    def __init__(self, fmt: str) -> None:
        if fmt not in FORMAT_RATES:
            raise ValueError(f"unsupported Realtime audio format {fmt!r}; use one of {sorted(FORMAT_RATES)}")
        self.fmt = fmt
        self.rate = FORMAT_RATES[fmt]
        self._resampler: StreamResampler | None = None

    def encode(self, pcm16: bytes, sample_rate: int) -> bytes:
        if self._resampler is None or self._resampler.in_rate != sample_rate:
            self._resampler = StreamResampler(sample_rate, self.rate, quality="QQ")
        pcm = self._resampler.process(pcm16)
        return ulaw_encode(pcm) if self.fmt == "audio/pcmu" else pcm

    def ms(self, encoded: bytes) -> float:
        width = 1 if self.fmt == "audio/pcmu" else 2
        return len(encoded) / width / self.rate * 1000


def decode_output(fmt: str, data: bytes) -> tuple[bytes, int]:
    """(PCM16, rate) of an output audio delta; an odd PCM byte count is cut to whole samples."""
    if fmt == "audio/pcmu":
        return ulaw_decode(data), FORMAT_RATES[fmt]
    return data[: len(data) - len(data) % 2], FORMAT_RATES[fmt]
