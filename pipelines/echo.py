"""The echo pipeline: a real agent graph without models, to exercise transports end to end.

``input -> EnergyTurnDetector -> BargeIn -> EchoAgent -> output``. The turn
detector decides caller turns from frame energy (a stand-in for Silero VAD +
Endpointer); ``BargeIn`` is the production one, so talking over the echo
interrupts it (the transport must ``clear``); ``EchoAgent`` says each caller
turn back as ``TTSAudio`` at a TTS-like rate (22050 Hz, 40 ms chunks, one
utterance id per reply), and answers a keypad press with that key's DTMF tone.
The hang-up digit (``#``) ends the call from inside the pipeline.

Serve it with ``voiceflow serve --pipeline echo``: calls share nothing, so the
pipeline is just ``build`` wrapped in ``Stateless``.
"""

from __future__ import annotations

import itertools
from collections import deque

import numpy as np

from voiceflow.calls import CallContext
from voiceflow.config import Config
from voiceflow.frames import (
    DTMF,
    AudioRaw,
    End,
    TextToSpeak,
    Transcript,
    TTSAudio,
    UserStartedSpeaking,
    UserStoppedSpeaking,
    VoiceStarted,
    VoiceStopped,
)
from voiceflow.graphs import Graph
from voiceflow.pipeline import Stateless
from voiceflow.processors import Processor, on
from voiceflow.processors.audio.bargein import BargeIn
from voiceflow.processors.audio.resample import StreamResampler

__all__ = ["DTMF_TONES", "EchoAgent", "EnergyTurnDetector", "build", "dtmf_tone", "level_dbfs", "pipeline"]

#: (low, high) Hz of each keypad key
DTMF_TONES = {
    "1": (697, 1209), "2": (697, 1336), "3": (697, 1477), "A": (697, 1633),
    "4": (770, 1209), "5": (770, 1336), "6": (770, 1477), "B": (770, 1633),
    "7": (852, 1209), "8": (852, 1336), "9": (852, 1477), "C": (852, 1633),
    "*": (941, 1209), "0": (941, 1336), "#": (941, 1477), "D": (941, 1633),
}  # fmt: skip


def level_dbfs(pcm16: bytes) -> float:
    """RMS level of PCM16 audio in dBFS (-inf-safe: silence is -120)."""
    x = np.frombuffer(pcm16, dtype="<i2").astype(np.float32)
    if x.size == 0:
        return -120.0
    rms = float(np.sqrt(np.mean(x * x))) / 32768.0
    return 20.0 * np.log10(max(rms, 1e-6))


def dtmf_tone(digit: str, sample_rate: int, seconds: float = 0.3) -> bytes:
    """The two-tone signal of ``digit`` as PCM16 (each tone at -10 dBFS peak)."""
    low, high = DTMF_TONES[digit]
    t = np.arange(int(sample_rate * seconds)) / sample_rate
    wave = 0.3 * np.sin(2 * np.pi * low * t) + 0.3 * np.sin(2 * np.pi * high * t)
    return (wave * 32767).astype("<i2").tobytes()


class EnergyTurnDetector(Processor):
    """Voice activity from frame energy: starts after ``start_ms`` voiced, stops after ``stop_ms`` quiet."""

    produces = (VoiceStarted, VoiceStopped)

    def __init__(
        self,
        *,
        name: str | None = None,
        threshold_dbfs: float = -40.0,
        start_ms: float = 60.0,
        stop_ms: float = 300.0,
    ) -> None:
        super().__init__(name=name or "turns")
        self.threshold_dbfs = threshold_dbfs
        self.start_ms = start_ms
        self.stop_ms = stop_ms
        self.speaking = False
        self._voiced_ms = 0.0
        self._quiet_ms = 0.0
        self._last_voiced_at = 0.0

    @on(AudioRaw)
    async def audio(self, frame: AudioRaw) -> None:
        await self.push(frame)
        ms = frame.duration * 1000
        if level_dbfs(frame.audio) >= self.threshold_dbfs:
            self._voiced_ms += ms
            self._quiet_ms = 0.0
            self._last_voiced_at = frame.ts
            if not self.speaking and self._voiced_ms >= self.start_ms:
                self.speaking = True
                await self.push(VoiceStarted())
        elif not self.speaking:
            self._voiced_ms = 0.0
        else:
            self._quiet_ms += ms
            if self._quiet_ms >= self.stop_ms:
                self.speaking = False
                self._voiced_ms = 0.0
                await self.push(VoiceStopped(last_voiced_at=self._last_voiced_at))


class EchoAgent(Processor):
    """Says each caller turn back (as TTS would: ``out_rate``, ``chunk_ms`` chunks); DTMF -> its tone.

    Every voiced span is a turn here, so the agent itself marks the turn boundaries.
    """

    produces = (TTSAudio, TextToSpeak, Transcript, UserStartedSpeaking, UserStoppedSpeaking)

    def __init__(
        self,
        *,
        name: str | None = None,
        out_rate: int = 22050,
        chunk_ms: int = 40,
        preroll_ms: float = 200.0,
        max_echo_s: float = 10.0,
        hangup_digit: str = "#",
    ) -> None:
        super().__init__(name=name or "echo")
        self.out_rate = out_rate
        self.chunk_ms = chunk_ms
        self.max_echo_s = max_echo_s
        self.hangup_digit = hangup_digit
        self._preroll: deque[bytes] = deque(maxlen=max(1, int(preroll_ms // 20)))
        self._turn: list[bytes] | None = None
        self._utterances = itertools.count(1)
        self.turns = 0
        self.digits: list[str] = []

    @on(AudioRaw)
    async def audio(self, frame: AudioRaw) -> None:
        if self._turn is not None:
            self._turn.append(frame.audio)
        else:
            self._preroll.append(frame.audio)
        await self.push(frame)

    @on(VoiceStarted)
    async def started(self, frame: VoiceStarted) -> None:
        self._turn = list(self._preroll)
        self._preroll.clear()
        await self.push(UserStartedSpeaking())

    @on(VoiceStopped)
    async def stopped(self, frame: VoiceStopped) -> None:
        await self.push(UserStoppedSpeaking(last_voiced_at=frame.last_voiced_at))
        pcm = b"".join(self._turn or [])[: int(self.max_echo_s * 16000) * 2]
        self._turn = None
        if not pcm:
            return
        self.turns += 1
        seconds = len(pcm) / 32000
        await self.push(Transcript(text=f"[{seconds:.1f} s of speech]", final=True))
        await self._say(f"echo {self.turns}: {seconds:.1f} seconds", pcm, 16000)

    @on(DTMF)
    async def key(self, frame: DTMF) -> None:
        self.digits.append(frame.digit)
        await self.push(frame)
        await self._say(f"you pressed {frame.digit}", dtmf_tone(frame.digit, 16000), 16000)
        if frame.digit == self.hangup_digit:
            await self.push(End(reason=f"caller pressed {frame.digit}"))

    async def _say(self, text: str, pcm: bytes, rate: int) -> None:
        uid = next(self._utterances)
        await self.push(TextToSpeak(text=text, utterance_id=uid))
        audio = StreamResampler(rate, self.out_rate).process(pcm, last=True)
        step = self.out_rate * self.chunk_ms // 1000 * 2
        for off in range(0, len(audio), step):
            await self.push(
                TTSAudio(audio=audio[off : off + step], sample_rate=self.out_rate, utterance_id=uid)
            )


def build(
    ctx: CallContext,
    input: Processor,
    output: Processor,
    *,
    barge_in_secs: float = 0.2,
) -> Graph:
    """``input -> turns -> barge_in -> echo -> output`` for one call."""
    return Graph(f"echo:{ctx.call_id}").chain(
        input,
        EnergyTurnDetector(name="turns"),
        BargeIn(name="barge_in", min_speech_secs=barge_in_secs),
        EchoAgent(name="echo"),
        output,
    )


def pipeline(config: Config) -> Stateless:
    """What ``voiceflow serve --pipeline echo`` loads: no settings, no shared resources."""
    return Stateless(build)
