"""``voiceflow nlu``: train the SetFit intent model, classify an utterance, evaluate the tiers.

voiceflow nlu train [--force] [--steps N]   train (or reuse) the cached model
voiceflow nlu classify "where is my order"  run the router once and print the decision
voiceflow nlu export-rasa [DIR]             a Rasa project from the intent data (deploy/rasa)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("nlu", help="intent router: train the SetFit model, classify text")
    sub = parser.add_subparsers(dest="nlu_command", metavar="SUBCOMMAND")

    train = sub.add_parser("train", help="train the SetFit intent model on the shipped examples")
    train.add_argument("--force", action="store_true", help="retrain even if a cached model matches")
    train.add_argument("--steps", type=int, default=None, help="contrastive training steps (bounded)")
    train.add_argument("--model-dir", type=Path, default=None, help="cache root (default .voiceflow/models)")
    train.set_defaults(func=_train)

    classify = sub.add_parser("classify", help="classify one utterance with the configured tiers")
    classify.add_argument("text")
    classify.add_argument("--rasa-url", default=None)
    classify.set_defaults(func=_classify)

    export = sub.add_parser(
        "export-rasa", help="write a Rasa 3 project (config, domain, NLU data) from our intents"
    )
    export.add_argument("out", type=Path, nargs="?", default=Path("deploy/rasa"), help="folder (deploy/rasa)")
    export.set_defaults(func=_export_rasa)

    parser.set_defaults(func=lambda args: parser.print_help() or 0)


def _export_rasa(args: argparse.Namespace) -> int:
    from voiceflow.processors.nlu.rasa_export import export_rasa

    for path in export_rasa(args.out):
        print(f"wrote {path}")
    return 0


def _train(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from voiceflow.processors.nlu.intents import default_catalog
    from voiceflow.processors.nlu.setfit_training import (
        TrainingParams,
        cached_model_dir,
        is_trained,
        read_meta,
        train_model,
    )

    params = TrainingParams() if args.steps is None else TrainingParams(max_steps=args.steps)
    catalog = default_catalog()
    target = cached_model_dir(catalog, params, args.model_dir)
    if is_trained(target) and not args.force:
        meta = read_meta(target)
        print(
            f"up to date: {target} (trained in {meta.get('train_seconds')}s, {meta.get('examples')} examples)"
        )
        return 0
    if args.force:
        shutil.rmtree(target, ignore_errors=True)
    texts, _ = catalog.examples()
    print(f"training SetFit on {len(texts)} examples of {len(catalog.names)} intents -> {target}")
    started = time.perf_counter()
    with tqdm(total=params.max_steps, desc="setfit", unit="step") as bar:

        def progress(step: int, total: int) -> None:
            bar.total = total
            bar.update(step - bar.n)

        train_model(catalog, params, args.model_dir, progress=progress)
    print(f"trained in {time.perf_counter() - started:.1f}s; cached at {target}")
    return 0


def _classify(args: argparse.Namespace) -> int:
    from voiceflow.processors.nlu.router import IntentRouter, NLUConfig

    base = NLUConfig.from_env()
    config = NLUConfig(
        rasa_url=args.rasa_url or base.rasa_url, model_root=base.model_root, timezone=base.timezone
    )

    async def run() -> dict[str, Any]:
        router = IntentRouter(config=config)
        try:
            return asdict(await router.classify(args.text))
        finally:
            await router.aclose()

    json.dump(asyncio.run(run()), sys.stdout, indent=2, default=str)
    print()
    return 0
