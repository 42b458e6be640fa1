"""The one error type of the audio package: malformed or unusable audio input."""

from __future__ import annotations


class AudioFormatError(ValueError):
    """Audio that cannot be interpreted as declared (odd byte count, NaN samples, bad rate...)."""
