"""Tier 3: the real SetFit model, trained once on the shipped examples and cached on disk."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from tests.nlu.nlu_helpers import accuracy, model_root
from voiceflow.cli import main as cli_main
from voiceflow.processors.nlu.intents import default_catalog, load_catalog, load_test_set
from voiceflow.processors.nlu.result import TierAnswer, TierUnavailable
from voiceflow.processors.nlu.setfit_tier import SetFitTier, load_model, loaded_models
from voiceflow.processors.nlu.setfit_training import (
    META_FILE,
    TrainingParams,
    cached_model_dir,
    ensure_trained,
    model_key,
    read_meta,
)


async def test_classifies_unseen_utterances(setfit_tier: SetFitTier) -> None:
    answer = await setfit_tier.classify("could you tell me when my parcel gets here")
    assert answer is not None
    assert answer.intent == "track_delivery"
    assert 0.0 < answer.confidence <= 1.0
    assert answer.ranking[0] == (answer.intent, answer.confidence)
    assert await setfit_tier.classify("   ") is None


async def test_accuracy_on_the_unseen_set(setfit_tier: SetFitTier) -> None:
    """Measured 95.4% (216 utterances, 18 intents) with the default 16 training steps."""

    async def predict(text: str) -> str | None:
        answer = await setfit_tier.classify(text)
        return answer.intent if answer else None

    acc, misses = await accuracy(predict)
    assert acc >= 0.9, misses


async def test_inference_runs_off_the_event_loop(setfit_tier: SetFitTier) -> None:
    threads: list[int] = []
    original = setfit_tier.predict

    def spy(text: str) -> TierAnswer:
        threads.append(threading.get_ident())
        return original(text)

    setfit_tier.predict = spy  # type: ignore[method-assign]
    await setfit_tier.classify("hello there")
    assert threads and threads[0] != threading.get_ident()


def test_cached_model_is_reused_not_retrained(trained_model: tuple[Path, bool]) -> None:
    model_dir, _ = trained_model
    again, trained_now = ensure_trained(root=model_root())
    assert (again, trained_now) == (model_dir, False)
    meta = read_meta(model_dir)
    assert meta["data_hash"] == default_catalog().data_hash
    assert meta["labels"] == sorted(default_catalog().names)
    # loading twice gives the process-wide instance
    assert load_model(model_dir) is load_model(model_dir)
    assert model_dir.resolve() in loaded_models()


def test_cli_train_reports_up_to_date(
    trained_model: tuple[Path, bool], capsys: pytest.CaptureFixture[str]
) -> None:
    model_dir, _ = trained_model
    before = (model_dir / META_FILE).stat().st_mtime_ns
    assert cli_main(["nlu", "train", "--model-dir", str(model_root())]) == 0
    assert "up to date" in capsys.readouterr().out
    assert (model_dir / META_FILE).stat().st_mtime_ns == before


def test_cache_key_follows_data_and_parameters(tmp_path: Path) -> None:
    catalog = default_catalog()
    raw = json.loads(
        (Path(__file__).resolve().parents[2] / "voiceflow/processors/nlu/data/intents.json").read_text()
    )
    raw["intents"]["greeting"]["examples"].append("well hi there friend")
    changed_file = tmp_path / "intents.json"
    changed_file.write_text(json.dumps(raw))
    changed = load_catalog(changed_file)
    params = TrainingParams()
    assert model_key(catalog, params) == model_key(default_catalog(), params)
    assert model_key(changed, params) != model_key(catalog, params)
    assert model_key(catalog, TrainingParams(max_steps=params.max_steps + 1)) != model_key(catalog, params)
    assert cached_model_dir(changed, params, tmp_path).parent == tmp_path


async def test_missing_model_makes_the_tier_unavailable(tmp_path: Path) -> None:
    tier = SetFitTier(model_dir=tmp_path / "nothing-here")
    await tier.start()
    assert not tier.ready
    with pytest.raises(TierUnavailable, match="voiceflow nlu train"):
        await tier.classify("hello")


async def test_corrupt_model_makes_the_tier_unavailable(tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / META_FILE).write_text("{}")  # claims to be trained, holds no model
    tier = SetFitTier(model_dir=broken)
    await tier.start()
    with pytest.raises(TierUnavailable, match="failed to load"):
        await tier.classify("hello")


async def test_the_onnx_encoder_agrees_with_the_torch_model(trained_model: tuple[Path, bool]) -> None:
    """The int8 ONNX export (the default backend) answers as the SetFit model itself does."""
    import numpy as np

    model_dir, _ = trained_model
    onnx_tier = SetFitTier(model_dir=model_dir)
    torch_tier = SetFitTier(model_dir=model_dir, backend="torch")
    await onnx_tier.start()
    await torch_tier.start()
    assert onnx_tier.ready and torch_tier.ready and onnx_tier.backend == "onnx"
    texts = [text for text, _ in load_test_set()[::4]]
    same = 0
    for text in texts:
        a, b = onnx_tier.predict(text), torch_tier.predict(text)
        same += a.intent == b.intent
        assert abs(a.confidence - dict(b.ranking).get(a.intent, 0.0)) < 0.12
    assert same / len(texts) >= 0.95, f"{same}/{len(texts)} top intents agree"
    assert np.isfinite(onnx_tier.predict("x" * 2000).confidence)  # a long turn is truncated, not an error


def test_unknown_backend_is_refused() -> None:
    with pytest.raises(ValueError, match="backend"):
        SetFitTier(backend="tensorflow")
