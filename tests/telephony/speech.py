"""Caller audio for the fake's callees, and transcribing what the fake recorded (offline recognizer)."""

from __future__ import annotations

from functools import cache

from voiceflow.core.clock import MonotonicClock
from voiceflow.processors.audio.resample import StreamResampler
from voiceflow.services.stt.engine import FinalText
from voiceflow.services.stt.whisper import WhisperEngine
from voiceflow.sim.recognize import recognize
from voiceflow.sim.speech import normalize_words, synthesize
from voiceflow.testing.fakes.twilio_callee import Callee


@cache
def voice(text: str) -> bytes:
    return synthesize(text, 16000)


def human(*lines: str, linger_s: float = 6.0) -> Callee:
    return Callee("human", script=tuple(voice(t) if not t.isdigit() else t for t in lines), linger_s=linger_s)


def machine(greeting: str = "Hi, you have reached Sam. Please leave a message after the tone.") -> Callee:
    return Callee("voicemail", greeting=voice(greeting), record_s=20.0)


async def transcribe(pcm8k: bytes) -> list[str]:
    """The words Whisper tiny.en (our offline recognizer, no domain prompt) hears in 8 kHz PCM16."""
    engine = WhisperEngine(initial_prompt=None, speculate=False)
    await engine.start(MonotonicClock())
    try:
        stream = await engine.open_stream(sample_rate=16000)
        pcm16k = StreamResampler(8000, 16000).process(pcm8k, last=True)
        result = await recognize(stream, pcm16k, trailing_silence_ms=500)
        await stream.aclose()
    finally:
        await engine.aclose()
    text = " ".join(e.text for e in result.events if isinstance(e, FinalText))
    return normalize_words(text)
