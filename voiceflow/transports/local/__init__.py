"""Local transports: WAV files in and out, for examples, tests and benchmarks."""

from voiceflow.transports.local.wav import WavFileSink, WavFileSource, read_wav, write_wav

__all__ = ["WavFileSink", "WavFileSource", "read_wav", "write_wav"]
