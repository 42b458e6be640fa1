"""Checks an audio frame before a processor uses it, with messages that say what is wrong.

Processors call ``audio_problem`` first; a non-None answer becomes an ``Error``
frame pushed upstream and the frame is skipped, so bad input never crashes a run.
"""

from __future__ import annotations

from collections.abc import Collection

from voiceflow.frames.audio import AudioRaw, TTSAudio
from voiceflow.processors.audio.codecs import check_pcm16
from voiceflow.processors.audio.errors import AudioFormatError

__all__ = ["MAX_RATE", "MIN_RATE", "audio_problem"]

#: the sample rates any audio processor accepts at all (telephony 8 kHz to studio 384 kHz)
MIN_RATE = 4000
MAX_RATE = 384_000


def audio_problem(frame: AudioRaw | TTSAudio, rates: Collection[int] | None = None) -> str | None:
    """Why ``frame`` cannot be processed, or None when it is fine. ``rates`` narrows the accepted rates."""
    kind = type(frame).__name__
    rate = frame.sample_rate
    if not MIN_RATE <= rate <= MAX_RATE:
        return f"{kind} sample rate {rate} Hz is outside the supported {MIN_RATE}..{MAX_RATE} Hz"
    if rates is not None and rate not in rates:
        accepted = ", ".join(str(r) for r in sorted(rates))
        return f"{kind} at {rate} Hz is not accepted here (accepted: {accepted} Hz)"
    if not frame.audio:
        return f"{kind} carries no audio (0 bytes)"
    try:
        check_pcm16(frame.audio, frame.channels)
    except AudioFormatError as exc:
        return f"{kind}: {exc}"
    return None
