"""Audio foundation: G.711 codecs, framing, resampling, VAD, endpointing and barge-in.

Where things are: ``codecs`` (mu-law/A-law, PCM16<->float32, Twilio base64),
``framing`` (fixed-size frames), ``resample`` (soxr stream resamplers and the
``Resample`` processor), ``silero`` (the shared Silero session and per-stream
state), ``vad`` (``VADProcessor``), ``turns`` (``Endpointer``), ``bargein``
(``BargeIn``). A typical caller path is
``Resample(16000) -> VADProcessor -> BargeIn -> STT -> Endpointer``.
Nothing heavy is imported here: onnxruntime loads when a VAD is first used.
"""

from voiceflow.processors.audio.bargein import BargeIn
from voiceflow.processors.audio.codecs import (
    alaw_decode,
    alaw_encode,
    float32_to_pcm16,
    pcm16_to_float32,
    pcm16_to_ulaw_b64,
    ulaw_b64_to_pcm16,
    ulaw_decode,
    ulaw_encode,
)
from voiceflow.processors.audio.errors import AudioFormatError
from voiceflow.processors.audio.framing import Rechunker
from voiceflow.processors.audio.resample import Resample, StreamResampler
from voiceflow.processors.audio.turns import Endpointer, default_completeness
from voiceflow.processors.audio.vad import SileroVAD, SpeechSegmenter, VADProcessor, VADStream

__all__ = [
    "AudioFormatError",
    "BargeIn",
    "Endpointer",
    "Rechunker",
    "Resample",
    "SileroVAD",
    "SpeechSegmenter",
    "StreamResampler",
    "VADProcessor",
    "VADStream",
    "alaw_decode",
    "alaw_encode",
    "default_completeness",
    "float32_to_pcm16",
    "pcm16_to_float32",
    "pcm16_to_ulaw_b64",
    "ulaw_b64_to_pcm16",
    "ulaw_decode",
    "ulaw_encode",
]
