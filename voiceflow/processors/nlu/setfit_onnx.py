"""The SetFit encoder on onnxruntime: the fine-tuned MiniLM exported once, quantized to int8.

Why: torch runs the 6-layer MiniLM in ~12 ms per utterance here (more under load,
where its thread pool fights the other calls); the same graph on onnxruntime with
int8 weights and one thread per call is several times faster and keeps the
classifier's accuracy (``benchmarks/nlu.py`` reports both). The export is made
from the trained model directory (itself keyed by the training data's hash), so it
is cached with the model and rebuilt only when the model is. Inference needs only
onnxruntime, the ``tokenizers`` fast tokenizer and numpy: no torch at run time.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger("voiceflow.nlu.setfit")

ONNX_DIR = "onnx"
ENCODER_FILE = "encoder-int8-per-channel.onnx"
MAX_TOKENS = 128  # caller turns are short; a longer one is truncated (SetFit trained on ≤ 64)
_EXPORT_LOCK = threading.Lock()


def encoder_path(model_dir: Path) -> Path:
    return model_dir / ONNX_DIR / ENCODER_FILE


def export_encoder(model_dir: Path) -> Path:
    """Export ``model_dir``'s transformer body to ONNX and quantize it (blocking; needs torch once)."""
    target = encoder_path(model_dir)
    with _EXPORT_LOCK:
        if target.exists():
            return target
        import torch
        from onnxruntime.quantization import QuantType, quantize_dynamic
        from transformers import AutoModel, AutoTokenizer

        body = AutoModel.from_pretrained(str(model_dir), local_files_only=True).eval()
        tok = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
        sample = tok(["where is my order one zero zero two"], return_tensors="pt")
        names = ["input_ids", "attention_mask", "token_type_ids"]

        class _Body(torch.nn.Module):
            def __init__(self, model: Any) -> None:
                super().__init__()
                self.model = model

            def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
                out = self.model(
                    input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
                )
                return out.last_hidden_state

        target.parent.mkdir(parents=True, exist_ok=True)
        fp32 = target.parent / f".fp32-{os.getpid()}.onnx"
        tmp = target.parent / f".tmp-{os.getpid()}.onnx"
        try:
            with torch.no_grad():
                torch.onnx.export(
                    _Body(body),
                    tuple(sample[n] for n in names),
                    str(fp32),
                    input_names=names,
                    output_names=["last_hidden_state"],
                    dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]},
                    opset_version=17,
                    dynamo=False,
                )
            quantize_dynamic(str(fp32), str(tmp), weight_type=QuantType.QInt8, per_channel=True)
            tmp.rename(target)
        finally:
            fp32.unlink(missing_ok=True)
            tmp.unlink(missing_ok=True)
        log.info("exported the SetFit encoder to %s", target)
        return target


class OnnxSetFit:
    """Tokenize → int8 MiniLM → mean pooling → L2 normalize → the trained logistic head."""

    def __init__(self, model_dir: Path) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        path = encoder_path(model_dir)
        if not path.exists():
            raise FileNotFoundError(f"no ONNX encoder at {path} (export_encoder makes it)")
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.no_padding()
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1  # many calls classify at once: one thread each beats a pool fight
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        import joblib

        # the logistic head SetFit training wrote into this cache directory (ours, not downloaded)
        self.head = joblib.load(model_dir / "model_head.pkl")
        self.labels = [str(c) for c in self.head.classes_]

    def embed(self, text: str) -> np.ndarray:
        enc = self.tokenizer.encode(text)
        ids = np.asarray([enc.ids], dtype=np.int64)
        mask = np.asarray([enc.attention_mask], dtype=np.int64)
        types = np.asarray([enc.type_ids], dtype=np.int64)
        (hidden,) = self.session.run(
            None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        )
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norm = np.linalg.norm(pooled, axis=1, keepdims=True)
        return np.asarray(pooled / np.maximum(norm, 1e-12), dtype=np.float32)

    def predict_proba(self, text: str) -> np.ndarray:
        return np.asarray(self.head.predict_proba(self.embed(text))[0])
