"""The intent catalogue: names, descriptions, training examples and the held-out test set.

One data file (``data/intents.json``) is the source of truth for every tier:
SetFit trains on its examples, the fake Rasa server builds its keyword model
from them, the LLM tier's function declaration takes its enum and descriptions
from it. ``data/intents_test.json`` holds the unseen evaluation utterances.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
TRAINING_FILE = DATA_DIR / "intents.json"
TEST_FILE = DATA_DIR / "intents_test.json"

#: the intent chosen when nothing is confident enough
OUT_OF_SCOPE = "out_of_scope"


@dataclass(frozen=True, slots=True)
class IntentSpec:
    name: str
    description: str
    examples: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class IntentCatalog:
    intents: tuple[IntentSpec, ...]
    #: sha256 of the training file's canonical JSON (keys the trained-model cache)
    data_hash: str

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.intents)

    def examples(self) -> tuple[list[str], list[str]]:
        """(texts, labels) for training."""
        texts = [ex for spec in self.intents for ex in spec.examples]
        labels = [spec.name for spec in self.intents for _ in spec.examples]
        return texts, labels

    def description(self, name: str) -> str:
        return next(spec.description for spec in self.intents if spec.name == name)


def load_catalog(path: Path = TRAINING_FILE) -> IntentCatalog:
    """Read and validate a training file (every intent needs a description and examples)."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    specs: list[IntentSpec] = []
    for name, body in raw["intents"].items():
        examples = tuple(str(e).strip() for e in body.get("examples", ()) if str(e).strip())
        if not examples:
            raise ValueError(f"{path}: intent {name!r} has no examples")
        specs.append(IntentSpec(name, str(body.get("description", "")), examples))
    if OUT_OF_SCOPE not in {s.name for s in specs}:
        raise ValueError(f"{path}: the catalogue must define {OUT_OF_SCOPE!r}")
    canonical = json.dumps(raw["intents"], sort_keys=True, ensure_ascii=False).encode()
    return IntentCatalog(tuple(specs), hashlib.sha256(canonical).hexdigest())


@lru_cache(maxsize=4)
def default_catalog() -> IntentCatalog:
    return load_catalog(TRAINING_FILE)


def load_test_set(path: Path = TEST_FILE) -> list[tuple[str, str]]:
    """(utterance, expected intent) pairs of the held-out evaluation set."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    return [(text, intent) for intent, texts in raw["utterances"].items() for text in texts]
