"""NLU benchmark: per-tier accuracy and latency on the held-out test set, plus RAG figures.

Tiers are measured one at a time on the same unseen utterances
(voiceflow/processors/nlu/data/intents_test.json), then the combined router
(regex -> SetFit, the offline default). Rasa and the LLM run against the local
fakes over loopback sockets (voiceflow/testing/fakes/): their latency is a
fake-server round trip and their accuracy is the fakes' keyword model's, not a
real Rasa or LLM; they measure the client path. RAG figures come from
``benchmarks/_rag.py`` when present.

    .venv/bin/python benchmarks/nlu.py [--quick] [--json] [--no-rag]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from voiceflow.processors.nlu.cascade import IntentCascade  # noqa: E402
from voiceflow.processors.nlu.intents import load_test_set  # noqa: E402
from voiceflow.processors.nlu.llm_tier import LLMTier  # noqa: E402
from voiceflow.processors.nlu.rasa_tier import RasaTier  # noqa: E402
from voiceflow.processors.nlu.regex_tier import RegexTier  # noqa: E402
from voiceflow.processors.nlu.result import TierUnavailable  # noqa: E402
from voiceflow.processors.nlu.setfit_tier import SetFitTier  # noqa: E402
from voiceflow.processors.nlu.setfit_training import DEFAULT_CACHE_ROOT, ensure_trained, read_meta  # noqa: E402
from voiceflow.services.llm.openai import OpenAICompatEngine  # noqa: E402
from voiceflow.testing.fakes.openai_server import FakeOpenAIServer  # noqa: E402
from voiceflow.testing.fakes.rasa import FakeRasaServer, classify_intent_rule  # noqa: E402

#: what the original system claimed per tier (ms)
CLAIMS = {
    "regex": "~0 ms",
    "rasa": "< 10 ms",
    "setfit": "< 5 ms",
    "torch": "-",
    "llm": "~1000 ms",
    "router": "-",
}

Cases = list[tuple[str, str]]


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _measure(
    name: str, cases: Cases, repeats: int, predict: Callable[[str], Awaitable[str | None]]
) -> dict[str, float]:
    """Accuracy over ``cases`` (first pass) and latency over all passes."""
    latencies: list[float] = []
    correct = 0
    for rep in range(repeats):
        for text, expected in cases:
            started = time.perf_counter()
            got = await predict(text)
            latencies.append((time.perf_counter() - started) * 1000.0)
            if rep == 0 and got == expected:
                correct += 1
    return {
        f"nlu_{name}_accuracy": correct / len(cases),
        f"nlu_{name}_p50_ms": _pct(latencies, 0.5),
        f"nlu_{name}_p99_ms": _pct(latencies, 0.99),
    }


def _intent_of(answer: Any) -> str | None:
    return answer.intent if answer is not None else None


async def bench_regex(cases: Cases, repeats: int) -> dict[str, float]:
    tier = RegexTier()

    async def predict(text: str) -> str | None:
        return _intent_of(tier.match(text))

    figures = await _measure("regex", cases, repeats * 5, predict)
    confident = [
        (e, a) for t, e in cases if (a := tier.match(t)) is not None and a.confidence >= tier.threshold
    ]
    figures["nlu_regex_coverage"] = len(confident) / len(cases)
    figures["nlu_regex_precision"] = sum(a.intent == e for e, a in confident) / max(1, len(confident))
    # the pattern match alone, without the await: what the tier really costs
    started = time.perf_counter()
    for text, _ in cases:
        tier.match(text)
    figures["nlu_regex_match_mean_us"] = (time.perf_counter() - started) * 1e6 / len(cases)
    return figures


async def bench_rasa(cases: Cases, repeats: int) -> dict[str, float]:
    async with FakeRasaServer() as server:
        tier = RasaTier(server.url, timeout=2.0)
        try:
            await tier.classify("warm up the connection")

            async def predict(text: str) -> str | None:
                return _intent_of(await tier.classify(text))

            return {
                k.replace("nlu_rasa", "nlu_rasa_fake"): v
                for k, v in (await _measure("rasa", cases, repeats, predict)).items()
            }
        finally:
            await tier.aclose()


async def bench_setfit(cases: Cases, repeats: int, tier: SetFitTier) -> dict[str, float]:
    async def predict(text: str) -> str | None:
        return _intent_of(await tier.classify(text))

    figures = await _measure("setfit", cases, repeats, predict)
    model_only: list[float] = []
    for text, _ in cases:
        started = time.perf_counter()
        tier.predict(text)
        model_only.append((time.perf_counter() - started) * 1000.0)
    figures["nlu_setfit_model_only_p50_ms"] = _pct(model_only, 0.5)
    return figures


async def bench_llm(cases: Cases, repeats: int) -> dict[str, float]:
    async with FakeOpenAIServer(rule=classify_intent_rule()) as fake:
        engine = OpenAICompatEngine("fake-model", base_url=fake.base_url, timeout=10.0)
        tier = LLMTier(engine, timeout=10.0)
        try:
            await tier.classify("warm up the connection")

            async def predict(text: str) -> str | None:
                try:
                    return _intent_of(await tier.classify(text))
                except TierUnavailable:
                    return None

            return {
                k.replace("nlu_llm", "nlu_llm_fake"): v
                for k, v in (await _measure("llm", cases, repeats, predict)).items()
            }
        finally:
            await engine.aclose()


async def bench_router(cases: Cases, repeats: int, setfit: SetFitTier) -> dict[str, float]:
    cascade = IntentCascade([RegexTier(), RasaTier(None), setfit])
    deciders: Counter[str] = Counter()

    async def predict(text: str) -> str | None:
        result = await cascade.classify(text)
        deciders[result.tier] += 1
        return result.intent

    figures = await _measure("router", cases, repeats, predict)
    total = sum(deciders.values())
    for tier, count in deciders.items():
        figures[f"nlu_router_decided_by_{tier}_share"] = count / total
    return figures


async def run_nlu(quick: bool) -> dict[str, float]:
    cases = load_test_set()
    if quick:
        cases = cases[::3]
    repeats = 1 if quick else 3
    figures: dict[str, float] = {"nlu_test_utterances": float(len(cases))}

    started = time.perf_counter()
    root = Path(os.environ.get("VOICEFLOW_NLU_MODEL_DIR") or ROOT / DEFAULT_CACHE_ROOT)
    model_dir, trained_now = await asyncio.to_thread(ensure_trained, None, None, root)
    meta = read_meta(model_dir)
    figures["nlu_setfit_train_s"] = float(meta["train_seconds"])
    figures["nlu_setfit_trained_this_run"] = 1.0 if trained_now else 0.0
    setfit = SetFitTier(model_dir=model_dir)
    load_started = time.perf_counter()
    await setfit.start()
    figures["nlu_setfit_load_s"] = time.perf_counter() - load_started
    if not setfit.ready:
        raise SystemExit(f"SetFit model did not load from {model_dir}")
    await setfit.classify("warm up")
    figures["nlu_setup_s"] = time.perf_counter() - started

    figures |= await bench_regex(cases, repeats)
    figures |= await bench_rasa(cases, repeats)
    figures |= await bench_setfit(cases, repeats, setfit)
    torch_tier = SetFitTier(model_dir=model_dir, backend="torch")  # the same model on torch, side by side
    await torch_tier.start()
    await torch_tier.classify("warm up")
    torch_figures = await bench_setfit(cases, repeats, torch_tier)
    figures |= {k.replace("nlu_setfit", "nlu_setfit_torch"): v for k, v in torch_figures.items()}
    figures |= await bench_llm(cases, repeats)
    figures |= await bench_router(cases, repeats, setfit)
    return figures


def rag_figures_if_available(quick: bool) -> tuple[dict[str, float], str]:
    path = ROOT / "benchmarks" / "_rag.py"
    if not path.exists():
        return {}, "benchmarks/_rag.py not present: RAG figures skipped"
    spec = importlib.util.spec_from_file_location("_voiceflow_rag_bench", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    figures: dict[str, float] = module.rag_figures(quick)
    return figures, ""


def print_table(figures: dict[str, float], note: str) -> None:
    rows = [
        ("regex", "regex", "tier 1, in process"),
        ("rasa", "rasa_fake", "tier 2, fake Rasa over loopback HTTP"),
        ("setfit", "setfit", "tier 3, SetFit MiniLM, int8 ONNX encoder (thread hop)"),
        ("torch", "setfit_torch", "the same model on torch (the previous backend)"),
        ("llm", "llm_fake", "tier 4, OpenAI fake round trip (not a real LLM)"),
        ("router", "router", "regex -> SetFit (offline default)"),
    ]
    print(f"NLU on {int(figures['nlu_test_utterances'])} unseen utterances (18 intents)\n")
    print(f"{'tier':<8} {'accuracy':>9} {'p50 ms':>9} {'p99 ms':>9}   {'claimed':<10} what")
    for label, key, what in rows:
        acc = figures[f"nlu_{key}_accuracy"]
        p50, p99 = figures[f"nlu_{key}_p50_ms"], figures[f"nlu_{key}_p99_ms"]
        print(f"{label:<8} {acc:>8.1%} {p50:>9.3f} {p99:>9.3f}   {CLAIMS[label]:<10} {what}")
    print(
        f"\nregex: {figures['nlu_regex_coverage']:.1%} of utterances decided at "
        f"{figures['nlu_regex_precision']:.1%} precision, "
        f"{figures['nlu_regex_match_mean_us']:.1f} us per match"
    )
    shares = {k.split("_by_")[1].removesuffix("_share"): v for k, v in figures.items() if "_decided_by_" in k}
    print("router decided by: " + ", ".join(f"{k} {v:.0%}" for k, v in sorted(shares.items())))
    print(
        f"setfit: model alone p50 {figures['nlu_setfit_model_only_p50_ms']:.2f} ms; load "
        f"{figures['nlu_setfit_load_s']:.1f} s; training took {figures['nlu_setfit_train_s']:.0f} s "
        f"({'this run' if figures['nlu_setfit_trained_this_run'] else 'cached on disk, reused'})"
    )
    rag = {k: v for k, v in figures.items() if k.startswith("rag_")}
    if rag:
        print("\nRAG (benchmarks/_rag.py)")
        for key, value in rag.items():
            print(f"  {key:<36} {value:>12.3f}")
    if note:
        print(f"\n{note}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="a third of the test set, one pass")
    parser.add_argument("--json", action="store_true", help="print one JSON object of the figures")
    parser.add_argument("--no-rag", action="store_true", help="skip the RAG figures")
    args = parser.parse_args()

    figures = asyncio.run(run_nlu(args.quick))
    note = "RAG figures skipped (--no-rag)" if args.no_rag else ""
    if not args.no_rag:
        rag, note = rag_figures_if_available(args.quick)
        figures |= rag
    figures = {k: (round(v, 4) if isinstance(v, float) and v == v else v) for k, v in figures.items()}
    if args.json:
        print(json.dumps(figures, sort_keys=True))
    else:
        print_table(figures, note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
