"""Tier 3: the SetFit classifier (MiniLM fine-tuned on the shipped examples).

The trained model is loaded from the on-disk cache once per process and shared
by every router; inference runs in a worker thread so a call's event loop never
waits on it. The default backend is the int8 ONNX export of the encoder
(``setfit_onnx``: several times faster than torch, same accuracy); ``backend="torch"``
runs the SetFit model itself. With no trained model the tier is unavailable (and says to run
``voiceflow nlu train``) unless ``train_if_missing`` is set.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path
from typing import Any

from voiceflow.processors.nlu.intents import IntentCatalog
from voiceflow.processors.nlu.result import TierAnswer, TierUnavailable
from voiceflow.processors.nlu.setfit_onnx import OnnxSetFit, encoder_path, export_encoder
from voiceflow.processors.nlu.setfit_training import (
    TrainingParams,
    cached_model_dir,
    ensure_trained,
    is_trained,
    offline_hub,
)

log = logging.getLogger("voiceflow.nlu.setfit")

_LOADED: dict[Path, Any] = {}
_LOAD_LOCK = threading.Lock()


def load_model(model_dir: Path) -> Any:
    """The SetFit model stored in ``model_dir``, loaded once per process."""
    key = model_dir.resolve()
    with _LOAD_LOCK:
        model = _LOADED.get(key)
        if model is None:
            offline_hub()
            from setfit import SetFitModel
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # "Loading weights" bars on every start

            model = SetFitModel.from_pretrained(str(key), local_files_only=True)
            model.model_body.eval()
            _LOADED[key] = model
        return model


_ONNX: dict[Path, OnnxSetFit] = {}


def load_onnx(model_dir: Path) -> OnnxSetFit:
    """The ONNX classifier for ``model_dir`` (exported on first use), loaded once per process."""
    key = model_dir.resolve()
    with _LOAD_LOCK:
        model = _ONNX.get(key)
        if model is None:
            if not encoder_path(key).exists():
                offline_hub()
                export_encoder(key)
            model = OnnxSetFit(key)
            _ONNX[key] = model
        return model


def loaded_models() -> tuple[Path, ...]:
    """Directories of the models this process has loaded, either backend (tests prove cache reuse)."""
    return tuple(dict.fromkeys([*_LOADED, *_ONNX]))


class SetFitTier:
    """Embeds the utterance with the fine-tuned MiniLM and reads the head's probabilities."""

    name = "setfit"

    def __init__(
        self,
        *,
        threshold: float = 0.5,
        model_dir: Path | None = None,
        catalog: IntentCatalog | None = None,
        params: TrainingParams | None = None,
        train_if_missing: bool = False,
        backend: str = "onnx",
    ) -> None:
        if backend not in ("onnx", "torch"):
            raise ValueError(f"SetFit backend must be 'onnx' or 'torch', not {backend!r}")
        self.backend = backend
        self.threshold = threshold
        self._catalog = catalog
        self._params = params
        self.model_dir = model_dir or cached_model_dir(catalog, params)
        self.train_if_missing = train_if_missing
        self._model: Any = None
        self._labels: list[str] = []
        self._unavailable: str | None = None

    async def start(self) -> None:
        """Load the cached model (or train it when allowed); never raises for a missing model."""
        if self._model is not None:
            return
        try:
            await asyncio.to_thread(self._load)
        except Exception as exc:
            self._unavailable = f"SetFit model failed to load from {self.model_dir}: {exc}"
            log.warning("%s", self._unavailable)

    def _load(self) -> None:
        if not is_trained(self.model_dir):
            if not self.train_if_missing:
                self._unavailable = f"no trained SetFit model at {self.model_dir}; run `voiceflow nlu train`"
                log.warning("%s", self._unavailable)
                return
            self.model_dir, _ = ensure_trained(self._catalog, self._params, self.model_dir.parent)
        if self.backend == "onnx":
            self._model = load_onnx(self.model_dir)
            self._labels = list(self._model.labels)
        else:
            self._model = load_model(self.model_dir)
            self._labels = [str(c) for c in self._model.model_head.classes_]
        self._unavailable = None

    @property
    def ready(self) -> bool:
        return self._model is not None

    async def aclose(self) -> None:
        return None  # the model is shared process-wide

    async def classify(self, text: str) -> TierAnswer | None:
        if self._model is None:
            raise TierUnavailable(self._unavailable or "SetFit tier not started")
        if not text.strip():
            return None
        return await asyncio.to_thread(self.predict, text)

    def predict(self, text: str) -> TierAnswer:
        """Blocking inference (public for benchmarks that time the model alone)."""
        if self.backend == "onnx":
            probs = self._model.predict_proba(text)
        else:
            probs = self._model.predict_proba([text], as_numpy=True)[0]
        order = sorted(range(len(probs)), key=lambda i: float(probs[i]), reverse=True)
        ranking = tuple((self._labels[i], round(float(probs[i]), 4)) for i in order[:5])
        return TierAnswer(intent=ranking[0][0], confidence=ranking[0][1], ranking=ranking)
