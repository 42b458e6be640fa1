"""Silero VAD on onnxruntime: one shared model session, state per stream.

The session is loaded lazily from the ``silero-vad`` package's bundled ONNX file
(no torch, no download) and shared by every stream in the process; onnxruntime
sessions are safe to call from several threads. Each ``VADStream`` holds its own
RNN state and context samples, so calls never see each other. Inference runs on
a small shared thread pool (``run_in_vad_pool``) to keep the event loop free.
"""

from __future__ import annotations

import asyncio
import importlib.resources
import math
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from voiceflow.processors.audio.codecs import pcm16_to_float32
from voiceflow.processors.audio.errors import AudioFormatError

__all__ = [
    "VAD_RATES",
    "SileroVAD",
    "VADStream",
    "VADWindow",
    "run_in_vad_pool",
    "vad_cpu_per_call_second",
]

T = TypeVar("T")

#: sample rate -> (window samples, context samples) the model expects
VAD_RATES: dict[int, tuple[int, int]] = {16000: (512, 64), 8000: (256, 32)}


class SileroVAD:
    """The process-wide Silero model session (get it with ``SileroVAD.shared()``)."""

    _instance: SileroVAD | None = None
    _lock = threading.Lock()

    def __init__(self, model_path: str | None = None) -> None:
        import onnxruntime  # heavy: only when a VAD is actually used

        path = model_path or str(importlib.resources.files("silero_vad") / "data" / "silero_vad.onnx")
        opts = onnxruntime.SessionOptions()
        opts.inter_op_num_threads = 1
        opts.intra_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(
            path, sess_options=opts, providers=["CPUExecutionProvider"]
        )
        names = {i.name for i in self.session.get_inputs()}
        if names != {"input", "state", "sr"}:
            raise RuntimeError(f"unexpected Silero VAD inputs {sorted(names)} in {path}")

    @classmethod
    def shared(cls) -> SileroVAD:
        """The one session of this process, loaded on first use (thread-safe)."""
        inst = cls._instance
        if inst is None:
            with cls._lock:
                inst = cls._instance
                if inst is None:
                    inst = cls._instance = cls()
        return inst

    def infer(
        self, window: npt.NDArray[np.float32], state: npt.NDArray[np.float32], sample_rate: int
    ) -> tuple[float, npt.NDArray[np.float32]]:
        """One step: ``window`` is context + new samples, shape (1, n). Returns (probability, new state)."""
        out, new_state = self.session.run(
            None, {"input": window, "state": state, "sr": np.array(sample_rate, dtype=np.int64)}
        )
        return float(out[0, 0]), new_state


@dataclass(frozen=True, slots=True)
class VADWindow:
    """The verdict on one model window."""

    probability: float
    volume_dbfs: float
    #: stream sample index just past this window (counts every sample ever fed)
    end_sample: int


class VADStream:
    """Per-stream Silero state: feeds any amount of mono PCM16, scores each full window.

    Not thread-safe on its own: one stream must be fed by one caller at a time
    (the VAD processor awaits each call before the next).
    """

    def __init__(self, sample_rate: int, model: SileroVAD | None = None) -> None:
        if sample_rate not in VAD_RATES:
            raise AudioFormatError(
                f"Silero VAD needs 8000 or 16000 Hz audio, got {sample_rate} Hz (resample first)"
            )
        self.sample_rate = sample_rate
        self.window, self.context_size = VAD_RATES[sample_rate]
        self.model = model or SileroVAD.shared()
        self.reset()

    def reset(self) -> None:
        self._state = np.zeros((2, 1, 128), dtype=np.float32)
        self._context = np.zeros(self.context_size, dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)
        self.samples_seen = 0

    @property
    def window_secs(self) -> float:
        return self.window / self.sample_rate

    def process(self, pcm16: bytes) -> list[VADWindow]:
        """Add mono PCM16 LE audio; score every window it completes (blocking: call off the loop)."""
        x = pcm16_to_float32(pcm16)
        self.samples_seen += x.size
        buf = np.concatenate((self._pending, x)) if self._pending.size else x
        n = self.window
        full = buf.size // n
        results: list[VADWindow] = []
        end = self.samples_seen - buf.size
        for i in range(full):
            chunk = buf[i * n : (i + 1) * n]
            model_in = np.concatenate((self._context, chunk))[np.newaxis, :]
            prob, self._state = self.model.infer(model_in, self._state, self.sample_rate)
            self._context = chunk[-self.context_size :].copy()
            end += n
            rms = math.sqrt(float(np.mean(np.square(chunk, dtype=np.float64))))
            results.append(VADWindow(prob, 20.0 * math.log10(max(rms, 1e-10)), end))
        self._pending = buf[full * n :].copy()
        return results


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _vad_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=min(2, os.cpu_count() or 1), thread_name_prefix="vad")
        return _pool


async def run_in_vad_pool(fn: Callable[..., T], *args: Any) -> T:
    """Run blocking model work on the small shared VAD thread pool."""
    return await asyncio.get_running_loop().run_in_executor(_vad_pool(), fn, *args)


def vad_cpu_per_call_second(pcm16: bytes, sample_rate: int = 16000) -> float:
    """CPU seconds Silero needs per second of call audio (benchmark helper; 1/x = calls per core).

    Feeds ``pcm16`` (mono) in 20 ms frames through a fresh stream and measures
    this thread's CPU time.
    """
    stream = VADStream(sample_rate)
    step = sample_rate // 50 * 2
    start = time.thread_time()
    for i in range(0, len(pcm16), step):
        stream.process(pcm16[i : i + step])
    spent = time.thread_time() - start
    seconds = len(pcm16) / 2 / sample_rate
    if seconds <= 0:
        raise AudioFormatError("need some audio to measure VAD cost")
    return spent / seconds
