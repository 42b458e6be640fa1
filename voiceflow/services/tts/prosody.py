"""Prosody: how fast, how high and how loud the agent speaks, and how that follows the caller's mood.

An upset caller is answered slower, lower and quieter (calm, not matching their
energy); a confused one slower and a touch louder (clearer); a happy one a little
brighter. Values are relative: rate and volume are multipliers, pitch is in
semitones. Engines apply what they can (Piper: rate as length scale, volume as
gain; it has no pitch control).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Prosody:
    #: speaking-rate multiplier (> 1 is faster)
    rate: float = 1.0
    #: pitch shift in semitones
    pitch: float = 0.0
    #: amplitude multiplier (1 is the voice's normal level)
    volume: float = 1.0

    def __post_init__(self) -> None:
        if not 0.25 <= self.rate <= 4.0:
            raise ValueError(f"rate {self.rate} outside 0.25..4")
        if not -24.0 <= self.pitch <= 24.0:
            raise ValueError(f"pitch {self.pitch} st outside -24..24")
        if not 0.0 <= self.volume <= 4.0:
            raise ValueError(f"volume {self.volume} outside 0..4")

    def then(self, inner: Prosody) -> Prosody:
        """``inner`` applied inside ``self`` (rates and volumes multiply, pitch shifts add)."""
        return Prosody(
            rate=_clamp(self.rate * inner.rate, 0.25, 4.0),
            pitch=_clamp(self.pitch + inner.pitch, -24.0, 24.0),
            volume=_clamp(self.volume * inner.volume, 0.0, 4.0),
        )


def _clamp(value: float, low: float, high: float) -> float:
    return min(high, max(low, value))


NEUTRAL = Prosody()

EMOTIONS: tuple[str, ...] = ("neutral", "happy", "frustrated", "sad", "angry", "confused")

#: caller emotion → how the agent answers
EMOTION_PROSODY: dict[str, Prosody] = {
    "neutral": NEUTRAL,
    "happy": Prosody(rate=1.05, pitch=1.0, volume=1.0),
    "frustrated": Prosody(rate=0.9, pitch=-1.0, volume=0.85),
    "sad": Prosody(rate=0.92, pitch=-0.5, volume=0.9),
    "angry": Prosody(rate=0.87, pitch=-1.5, volume=0.8),
    "confused": Prosody(rate=0.85, pitch=0.0, volume=1.1),
}


def prosody_for(emotion: str | None) -> Prosody:
    """The answer prosody for a caller emotion; unknown or missing emotions are neutral."""
    if not emotion:
        return NEUTRAL
    return EMOTION_PROSODY.get(emotion.strip().lower(), NEUTRAL)
