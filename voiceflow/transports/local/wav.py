"""WAV file transport: a source that plays a file into the graph as 20 ms frames, and a sink that records."""

from __future__ import annotations

import wave
from pathlib import Path

from voiceflow.frames import AudioRaw, End, Frame, Start, TTSAudio
from voiceflow.processors import Processor, on


class WavFormatError(ValueError):
    """The file is not 16-bit PCM WAV."""


def read_wav(path: str | Path) -> tuple[bytes, int, int]:
    """Return (pcm16 bytes, sample rate, channels); only 16-bit PCM is accepted."""
    try:
        with wave.open(str(path), "rb") as w:
            if w.getsampwidth() != 2 or w.getcomptype() != "NONE":
                raise WavFormatError(
                    f"{path}: need 16-bit PCM WAV, got {8 * w.getsampwidth()}-bit {w.getcomptype()}"
                )
            return w.readframes(w.getnframes()), w.getframerate(), w.getnchannels()
    except wave.Error as exc:
        raise WavFormatError(f"{path}: not a readable WAV file ({exc})") from exc


def write_wav(path: str | Path, pcm16: bytes, sample_rate: int, channels: int = 1) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(pcm16)


class WavFileSource(Processor):
    """Reads a WAV file and pushes it as ``frame_ms`` AudioRaw frames, then End.

    With ``realtime`` the frames are paced on the run clock, as a caller would speak.
    """

    produces = (AudioRaw,)

    def __init__(
        self, path: str | Path, *, frame_ms: int = 20, realtime: bool = False, name: str | None = None
    ) -> None:
        super().__init__(name=name or "wav_in")
        self.path = Path(path)
        self.frame_ms = frame_ms
        self.realtime = realtime
        self.sent = 0

    async def on_start(self, frame: Start) -> None:
        self.create_task(self._play(), turn=False)

    async def _play(self) -> None:
        try:
            pcm, rate, channels = read_wav(self.path)
        except (OSError, WavFormatError) as exc:
            await self.report_error(str(exc), exception=exc)
            await self.push(End(reason="input unreadable"))
            return
        step = rate * self.frame_ms // 1000 * 2 * channels
        clock = self.run.clock
        t0 = clock.now()
        for i, off in enumerate(range(0, len(pcm), step)):
            if self.realtime:
                await clock.sleep(t0 + i * self.frame_ms / 1000 - clock.now())
            await self.push(AudioRaw(audio=pcm[off : off + step], sample_rate=rate, channels=channels))
            self.sent += 1
        await self.push(End(reason="end of file"))


class WavFileSink(Processor):
    """Records audio frames of one kind (agent TTSAudio by default) into a WAV when the run ends."""

    def __init__(self, path: str | Path, *, kind: type[Frame] = TTSAudio, name: str | None = None) -> None:
        super().__init__(name=name or "wav_out")
        self.path = Path(path)
        self.kind = kind
        self.chunks: list[bytes] = []
        self.sample_rate: int | None = None
        self.channels = 1

    @on(AudioRaw, TTSAudio)
    async def audio(self, frame: AudioRaw | TTSAudio) -> None:
        if isinstance(frame, self.kind):
            if self.sample_rate is None:
                self.sample_rate, self.channels = frame.sample_rate, frame.channels
            if frame.sample_rate != self.sample_rate:
                await self.report_error(
                    f"{self.name}: sample rate changed "
                    f"{self.sample_rate} -> {frame.sample_rate}; "
                    "chunk skipped (resample before the sink)"
                )
            else:
                self.chunks.append(frame.audio)
        await self.push(frame)

    async def on_end(self, frame: End) -> None:
        if self.sample_rate is not None:
            write_wav(self.path, b"".join(self.chunks), self.sample_rate, self.channels)
