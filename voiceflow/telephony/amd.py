"""Local answering-machine detection on the first seconds of a call's audio.

Used when Twilio's AMD is off (``VOICEFLOW_AMD=local``). It gives Twilio's answers
(``human``, ``machine_start`` / ``machine_end_beep`` / ``machine_end_silence``,
``fax``, ``unknown``) from three cues, each measured per 20 ms frame:

- **fax tones**: a pure tone at 2100 Hz (the answering fax's CED) or 1100 Hz
  (a calling fax's CNG) held for ``fax_s``;
- **greeting length**: a person answers with a short "Hello?" and waits (speech
  under ``human_max_speech_s`` then ``human_silence_s`` of silence); a machine
  talks on (more than ``machine_speech_s`` of speech with short pauses only);
- **the beep**: after a machine's greeting, a pure tone (400-2000 Hz) held for
  ``beep_s`` ends the message; so does ``end_silence_s`` of silence.

Energy and tonality come from one FFT per frame (numpy), so the detector costs
microseconds per frame and never waits on anything.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["AmdResult", "LocalAmd", "is_machine"]

FRAME_S = 0.02


def is_machine(answered_by: str) -> bool:
    return answered_by.startswith("machine")


@dataclass(frozen=True, slots=True)
class AmdResult:
    answered_by: str
    #: seconds of audio from the answer to the decision
    after_s: float


class LocalAmd:
    """Feed PCM16 mono audio with ``feed``; it returns a result once (``decided``), then the end of the
    machine's message once (``message_end``)."""

    def __init__(
        self,
        sample_rate: int = 16000,
        *,
        speech_dbfs: float = -40.0,
        human_max_speech_s: float = 1.8,
        human_silence_s: float = 0.8,
        machine_speech_s: float = 2.4,
        no_speech_s: float = 5.0,
        fax_s: float = 0.6,
        beep_s: float = 0.16,
        end_silence_s: float = 2.0,
        tonality: float = 0.75,
    ) -> None:
        self.rate = sample_rate
        self.frame_samples = int(sample_rate * FRAME_S)
        self.speech_level = 32768.0 * 10 ** (speech_dbfs / 20)
        self.human_max_speech_s = human_max_speech_s
        self.human_silence_s = human_silence_s
        self.machine_speech_s = machine_speech_s
        self.no_speech_s = no_speech_s
        self.fax_s = fax_s
        self.beep_s = beep_s
        self.end_silence_s = end_silence_s
        self.tonality = tonality
        self._buf = np.zeros(0, dtype=np.int16)
        self.t = 0.0  # seconds of audio seen
        self.speech_s = 0.0  # voiced seconds so far
        self.silence_run = 0.0
        self.first_speech: float | None = None
        self.fax_run = 0.0
        self.tone_run = 0.0
        self.tone_hz = 0.0
        self.beeping = False
        self.decided: AmdResult | None = None
        self.message_end: AmdResult | None = None

    def feed(self, pcm16: bytes) -> AmdResult | None:
        """Add audio; returns the decision, and later the end of a machine's message, when they happen."""
        out: AmdResult | None = None
        self._buf = np.concatenate([self._buf, np.frombuffer(pcm16, dtype="<i2")])
        n = self.frame_samples
        while len(self._buf) >= n:
            frame, self._buf = self._buf[:n], self._buf[n:]
            result = self._frame(frame.astype(np.float64))
            if result is not None:
                out = result
        return out

    def _frame(self, x: np.ndarray) -> AmdResult | None:
        self.t += FRAME_S
        rms = float(np.sqrt(np.mean(x * x)))
        voiced = rms >= self.speech_level
        peak_hz, tonal = self._tone(x) if voiced else (0.0, False)
        # tone tracking (fax or beep): the same pure tone frame after frame
        if tonal and abs(peak_hz - self.tone_hz) < 60:
            self.tone_run += FRAME_S
        else:
            self.tone_run = FRAME_S if tonal else 0.0
            self.tone_hz = peak_hz if tonal else 0.0
        fax = tonal and (abs(peak_hz - 2100) < 60 or abs(peak_hz - 1100) < 60)
        self.fax_run = self.fax_run + FRAME_S if fax else 0.0
        if voiced and not tonal:
            self.speech_s += FRAME_S
            self.silence_run = 0.0
            if self.first_speech is None:
                self.first_speech = self.t
        elif not voiced:
            self.silence_run += FRAME_S
        if self.decided is None:
            return self._decide()
        if self.message_end is None and is_machine(self.decided.answered_by):
            return self._end_of_message()
        return None

    def _tone(self, x: np.ndarray) -> tuple[float, bool]:
        spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2
        spectrum[:3] = 0.0  # DC and rumble
        total = float(spectrum.sum())
        if total <= 0:
            return 0.0, False
        k = int(np.argmax(spectrum))
        band = float(spectrum[max(0, k - 2) : k + 3].sum())
        return k * self.rate / len(x), band / total >= self.tonality

    def _decide(self) -> AmdResult | None:
        if self.fax_run >= self.fax_s:
            self.decided = AmdResult("fax", self.t)
        elif self.speech_s >= self.machine_speech_s:
            self.decided = AmdResult("machine_start", self.t)
        elif self.first_speech is not None and self.silence_run >= self.human_silence_s:
            long = self.speech_s > self.human_max_speech_s
            self.decided = AmdResult("machine_start" if long else "human", self.t)
        elif self.first_speech is None and self.t >= self.no_speech_s:
            self.decided = AmdResult("unknown", self.t)
        return self.decided

    def _end_of_message(self) -> AmdResult | None:
        if self.tone_run >= self.beep_s and 400 <= self.tone_hz <= 2000:
            self.beeping = True  # the message ends when the beep does
        elif self.beeping and self.tone_run == 0.0:
            self.message_end = AmdResult("machine_end_beep", self.t)
        elif self.silence_run >= self.end_silence_s:
            self.message_end = AmdResult("machine_end_silence", self.t)
        return self.message_end
