"""The intent catalogue and the held-out test set are well-formed and disjoint."""

from __future__ import annotations

import re
from collections import Counter

from voiceflow.processors.nlu.intents import default_catalog, load_test_set

REQUIRED = {
    "check_order", "track_delivery", "schedule_appointment", "cancel_appointment",
    "reschedule_appointment", "transfer_to_human", "account_lookup", "business_hours", "feedback",
    "goodbye", "greeting", "affirm", "deny", "repeat", "help", "small_talk", "out_of_scope",
}  # fmt: skip


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9 ]", "", text.lower()).split())


def test_catalog_has_the_required_intents_with_enough_examples() -> None:
    catalog = default_catalog()
    assert REQUIRED <= set(catalog.names)
    assert len(catalog.names) >= 17
    for spec in catalog.intents:
        assert len(spec.examples) >= 12, spec.name
        assert spec.description, spec.name
        assert len({_norm(e) for e in spec.examples}) == len(spec.examples), f"duplicates in {spec.name}"


def test_test_set_is_unseen_and_covers_every_intent() -> None:
    catalog = default_catalog()
    training = {_norm(e) for spec in catalog.intents for e in spec.examples}
    tests = load_test_set()
    per_intent = Counter(intent for _, intent in tests)
    assert set(per_intent) == set(catalog.names)
    assert min(per_intent.values()) >= 10
    overlap = [text for text, _ in tests if _norm(text) in training]
    assert not overlap, f"test utterances also in training: {overlap}"
    # recogniser-style lines (lowercase, no punctuation) make up most of the set
    asr_like = sum(1 for text, _ in tests if text == text.lower() and not re.search(r"[?!,.]", text))
    assert asr_like / len(tests) > 0.8


def test_data_hash_is_stable() -> None:
    assert default_catalog().data_hash == default_catalog().data_hash
    assert len(default_catalog().data_hash) == 64
