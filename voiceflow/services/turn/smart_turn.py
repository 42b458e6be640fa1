"""smart-turn v3.2 on onnxruntime: the probability that the caller's turn is over, from audio alone.

The model (BSD-2-Clause, 8.7 MB) is extracted from the pipecat-ai wheel by
``scripts/fetch_smart_turn.sh`` into the virtualenv's ``share/voiceflow/`` folder and
checked against its SHA-256 here at load; pipecat-ai is never installed and nothing is
downloaded at run time. Input: the last 8 s of the turn at 16 kHz (zero-padded in front
when shorter), normalised to zero mean and unit variance, as 80 Whisper log-mel bins x
800 frames, computed with faster-whisper's feature extractor. Output: P(turn complete).

One session per process (``SmartTurnModel.shared()``), called from worker threads;
onnxruntime sessions are safe to share between threads. Engine-style: callers hold the
``TurnModel`` protocol (``services/turn/engine.py``), so the model can move behind another
process the same way.
"""

from __future__ import annotations

import hashlib
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from voiceflow.services.turn.engine import TURN_MODEL_RATE

__all__ = [
    "MODEL_SHA256",
    "SAMPLE_RATE",
    "WINDOW_SECS",
    "SmartTurnModel",
    "SmartTurnUnavailableError",
    "default_model_path",
    "turn_features",
]

SAMPLE_RATE = TURN_MODEL_RATE
WINDOW_SECS = 8
MODEL_FILE = "smart-turn-v3.2-cpu.onnx"
#: sha256 of smart-turn-v3.2-cpu.onnx as shipped in pipecat-ai 1.14.0
MODEL_SHA256 = "2bb026316b14a660486a75b1733cd3fbab8c2fd0314dc9af7be49f8cca967e4f"
_NORM_EPS = 1e-7


class SmartTurnUnavailableError(RuntimeError):
    """The model file is missing or is not the pinned one."""


def default_model_path() -> Path:
    """Where the set-up puts the model: ``<virtualenv>/share/voiceflow/``."""
    return Path(sys.prefix) / "share" / "voiceflow" / MODEL_FILE


_extractor_lock = threading.Lock()
_extractor: Any = None


def _feature_extractor() -> Any:
    global _extractor
    with _extractor_lock:
        if _extractor is None:
            from faster_whisper.feature_extractor import FeatureExtractor

            _extractor = FeatureExtractor(sampling_rate=SAMPLE_RATE, chunk_length=WINDOW_SECS)
        return _extractor


def last_window(audio: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """The last 8 s of ``audio`` (16 kHz), zero-padded in front when shorter."""
    n = SAMPLE_RATE * WINDOW_SECS
    x = np.asarray(audio, dtype=np.float32)
    if len(x) >= n:
        return x[-n:]
    return np.concatenate([np.zeros(n - len(x), dtype=np.float32), x])


def turn_features(audio: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """The model's input for ``audio`` (16 kHz float32): 80 log-mel bins x 800 frames.

    The 8 s window is normalised (zero mean, unit variance) before the spectrogram, as the
    model was trained; faster-whisper's extractor then gives the Whisper log-mel (no padding:
    the window is exactly 8 s; its last STFT frame is dropped, giving 800 frames). Against
    the reference extractor: within 1.4e-5 on speech, 6e-5 on a pure sweep (the two mel
    filterbanks' edges differ by a rounding), tested on fixed clips.
    """
    x = last_window(audio)
    x = (x - x.mean()) / np.sqrt(x.var() + _NORM_EPS)
    mel = _feature_extractor()(x.astype(np.float32), padding=0)
    return np.asarray(mel, dtype=np.float32)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class SmartTurnModel:
    """The process-wide smart-turn session (``SmartTurnModel.shared()``)."""

    _instance: SmartTurnModel | None = None
    _lock = threading.Lock()

    def __init__(self, path: Path | None = None, *, threads: int = 1) -> None:
        import onnxruntime

        self.path = path or default_model_path()
        if not self.path.is_file():
            raise SmartTurnUnavailableError(
                f"smart-turn model not found at {self.path}: run `bash scripts/fetch_smart_turn.sh` "
                "(scripts/setup.sh does), or set VOICEFLOW_TURN_MODEL=none"
            )
        if (digest := _sha256(self.path)) != MODEL_SHA256:
            raise SmartTurnUnavailableError(
                f"{self.path} has sha256 {digest}, expected {MODEL_SHA256} (smart-turn v3.2 from "
                "pipecat-ai 1.14.0): re-run `bash scripts/fetch_smart_turn.sh`"
            )
        opts = onnxruntime.SessionOptions()
        opts.inter_op_num_threads = 1
        opts.intra_op_num_threads = threads
        opts.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        self.session = onnxruntime.InferenceSession(
            str(self.path), sess_options=opts, providers=["CPUExecutionProvider"]
        )
        self.input_name = self.session.get_inputs()[0].name

    @classmethod
    def shared(cls) -> SmartTurnModel:
        with cls._lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def probability(self, audio: npt.NDArray[np.float32]) -> float:
        """P(the turn is over) for the turn's audio so far (16 kHz float32, any length)."""
        features = turn_features(audio)[np.newaxis]
        (out,) = self.session.run(None, {self.input_name: features})[:1]
        return float(np.asarray(out).reshape(-1)[0])
