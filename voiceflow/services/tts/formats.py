"""Audio formats cloud voices send, decoded to the PCM16 mono every TTSEngine yields.

The format is chosen for where the audio goes: 8 kHz μ-law for a phone line (the
Twilio transport re-encodes it to the very same bytes, so it is played as is, with no
resampling), 16 kHz linear PCM for WebRTC and the browser, MP3 where a file is wanted
(decoded with av only when it must be played). Decoding uses av's codecs; a stream
that cannot be decoded raises ``TTSError`` naming the format, never a codec exception.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from voiceflow.services.tts.engine import TTSError

Encoding = Literal["mulaw", "pcm", "mp3"]


@dataclass(frozen=True, slots=True)
class AudioFormat:
    encoding: Encoding
    sample_rate: int


def decoder(fmt: AudioFormat, provider: str) -> Decoder:
    if fmt.encoding == "pcm":
        return PCMDecoder(provider)
    return AVDecoder(fmt, provider)


class Decoder:
    """Feed encoded bytes as they arrive; PCM16 comes out; ``flush`` at the end of the stream."""

    def feed(self, data: bytes) -> bytes:
        raise NotImplementedError

    def flush(self) -> bytes:
        return b""


class PCMDecoder(Decoder):
    """Raw PCM16: only whole samples leave (a chunk may end in the middle of one)."""

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self._odd = b""

    def feed(self, data: bytes) -> bytes:
        buf = self._odd + data
        cut = len(buf) - len(buf) % 2
        self._odd = buf[cut:]
        return buf[:cut]

    def flush(self) -> bytes:
        if self._odd:
            self._odd = b""
            raise TTSError(f"{self.provider}: PCM16 stream ended in the middle of a sample")
        return b""


class AVDecoder(Decoder):
    """μ-law and MP3 through av's decoders, resampled to s16 mono at the format's rate."""

    def __init__(self, fmt: AudioFormat, provider: str) -> None:
        import av

        self.fmt = fmt
        self.provider = provider
        name = "pcm_mulaw" if fmt.encoding == "mulaw" else "mp3"
        ctx: Any = av.CodecContext.create(name, "r")
        if fmt.encoding == "mulaw":
            ctx.sample_rate = fmt.sample_rate
            ctx.layout = "mono"
        self._ctx = ctx
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=fmt.sample_rate)
        self._produced = 0
        #: the largest MP3 frame parsed so far: a shorter last frame means the stream was cut
        self._frame_bytes = 0

    def _decode(self, packets: list[Any]) -> bytes:
        import av

        out = bytearray()
        try:
            for packet in packets:
                for frame in self._ctx.decode(packet):
                    for res in self._resampler.resample(frame):
                        out += bytes(res.planes[0])[: res.samples * 2]
        except av.error.FFmpegError as exc:
            raise TTSError(f"{self.provider}: undecodable {self.fmt.encoding} audio: {exc}") from exc
        self._produced += len(out)
        return bytes(out)

    def feed(self, data: bytes) -> bytes:
        import av

        if self.fmt.encoding == "mulaw":
            return self._decode([av.Packet(data)])
        try:
            packets = self._ctx.parse(data)
        except av.error.FFmpegError as exc:
            raise TTSError(f"{self.provider}: undecodable mp3 audio: {exc}") from exc
        self._frame_bytes = max([self._frame_bytes, *(p.size for p in packets)])
        return self._decode(packets)

    def flush(self) -> bytes:
        import av

        if self.fmt.encoding == "mulaw":
            return b""
        try:
            packets = self._ctx.parse(b"")
        except av.error.FFmpegError as exc:
            raise TTSError(f"{self.provider}: undecodable mp3 audio: {exc}") from exc
        if any(p.size < 0.9 * self._frame_bytes for p in packets) or (packets and not self._frame_bytes):
            raise TTSError(f"{self.provider}: the mp3 stream was cut off in the middle of a frame")
        out = self._decode([*packets, None])
        if not self._produced:
            raise TTSError(f"{self.provider}: the mp3 stream held no decodable audio (truncated or not mp3)")
        return out
