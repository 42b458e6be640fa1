"""The domain language model: corpus normalisation, the Kneser-Ney builder, the ARPA file,
and what it does for recognition on the held-out caller set over a phone line.

Measured on this machine (pocketsphinx 5.1.1 en-us, joe-medium voice, hints on,
``channel="phone"``, same graph as test_speech_roundtrip): generic LM WER 0.330, keyword
recall 0.678, digit recall 0.535; domain LM WER 0.252, keyword recall 0.800, digit recall
0.767 over 34 sentences. The bounds sit a little beyond those figures. The caller set is
never part of the corpus (4 of its 34 sentences happen to be generated verbatim by
templates or NLU examples; on the other 30 the WER goes 0.357 → 0.271).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tests.speech.test_speech_roundtrip import DIGITS, Recognised, recognise_all
from voiceflow.services.stt import domain_lm as dlm
from voiceflow.services.stt.pocketsphinx import PocketsphinxEngine
from voiceflow.sim.speech import keyword_recall, word_error_rate, word_errors

DOMAIN_WER_BOUND = 0.27
DOMAIN_KEYWORD_RECALL_BOUND = 0.77
DOMAIN_DIGIT_RECALL_BOUND = 0.72

TINY = [["a", "b"], ["a", "c"], ["a", "b"]]


def _p(model: dlm.ArpaModel, *gram: str) -> float:
    return 10 ** model[len(gram)][gram][0]


def _backed_off(model: dlm.ArpaModel, gram: tuple[str, ...]) -> float:
    """log10 p(gram[-1] | gram[:-1]) by the ARPA backoff rule."""
    if gram in model[len(gram)]:
        return model[len(gram)][gram][0]
    bow = model[len(gram) - 1].get(gram[:-1], (0.0, 0.0))[1] or 0.0
    return bow + _backed_off(model, gram[1:])


# -- the builder ---------------------------------------------------------------------------------
def test_kneser_ney_on_a_tiny_corpus_matches_the_hand_computation() -> None:
    # continuation counts: a=1 (after <s>), b=1, c=1, </s>=2 (after b and c); D=0.5
    # unigram: gamma = 4*0.5/5 = 0.4; p(a) = 0.5/5 + 0.4/4 = 0.2; p(</s>) = 1.5/5 + 0.1 = 0.4
    # bigram "a _": counts b=1, c=1 (left extensions); gamma(a) = 0.5 → p(b|a) = 0.25 + 0.5*0.2
    # bigram "<s> a": raw count 3; p(a|<s>) = 2.5/3 + (0.5/3)*0.2
    # trigram "<s> a _": b=2, c=1; gamma = 1/3 → p(b|<s> a) = 1.5/3 + 0.35/3
    model = dlm.build_kneser_ney(TINY, 3, discount=0.5)
    assert _p(model, "a") == pytest.approx(0.2)
    assert _p(model, "</s>") == pytest.approx(0.4)
    assert _p(model, "a", "b") == pytest.approx(0.35)
    assert _p(model, "<s>", "a") == pytest.approx(2.5 / 3 + 0.2 / 6)
    assert _p(model, "<s>", "a", "b") == pytest.approx(0.5 + 0.35 / 3)
    assert _p(model, "<s>", "a", "c") == pytest.approx(0.5 / 3 + 0.35 / 3)
    assert model[1][("a",)][1] == pytest.approx(math.log10(0.5))  # bow(a) = gamma(a)
    assert model[2][("<s>", "a")][1] == pytest.approx(math.log10(1 / 3))
    # unseen: p(</s> | <s> a) = bow(<s> a) * p(</s> | a) = 1/3 * 0.5 * 0.4
    assert 10 ** _backed_off(model, ("<s>", "a", "</s>")) == pytest.approx(0.4 / 6)


def test_every_context_is_a_distribution_even_with_base_unigrams() -> None:
    base = {"a": 0.1, "b": 0.2, "zebra": 0.3, "</s>": 0.4}
    model = dlm.build_kneser_ney(TINY, 3, base_unigrams=base, base_weight=0.25)
    vocab = [g[0] for g in model[1] if g != ("<s>",)]
    assert "zebra" in vocab
    for context in [(), ("a",), ("<s>",), ("<s>", "a"), ("a", "b"), ("b",)]:
        total = sum(10 ** _backed_off(model, (*context, w)[-3:]) for w in vocab)
        assert total == pytest.approx(1.0), context


def test_modified_discounts_follow_chen_and_goodman() -> None:
    counts = [1] * 10 + [2] * 4 + [3] * 2 + [4] + [9] * 5
    y = 10 / (10 + 2 * 4)
    d1, d2, d3 = dlm.modified_discounts(counts)
    assert d1 == pytest.approx(1 - 2 * y * 4 / 10)
    assert d2 == pytest.approx(2 - 3 * y * 2 / 4)
    assert d3 == pytest.approx(3 - 4 * y * 1 / 2)
    assert dlm.modified_discounts([1, 1, 5]) == (0.9, 0.9, 0.9)  # degenerate: absolute discounting


def test_written_text_becomes_spoken_dictionary_words() -> None:
    assert (
        dlm.spoken_form("Please cancel appointment APT-123")
        == "please cancel appointment a p t one two three"
    )
    assert dlm.spoken_form("schedule a visit for December 5th at 10 am") == (
        "schedule a visit for december fifth at ten a m"
    )
    assert (
        dlm.spoken_form("my email is jane.doe@example.com") == "my email is jane dot doe at example dot com"
    )
    assert (
        dlm.spoken_form("look up 555-123-4567") == "look up five five five one two three four five six seven"
    )
    assert dlm.spoken_form("status of order #1001?") == "status of order one zero zero one"
    # Whisper writes a spoken digit string in hyphen-joined groups: still digit by digit
    assert dlm.spoken_form("The tracking number is 9-3-16.") == "the tracking number is nine three one six"
    assert dlm.spoken_form("I'd rate it 4 out of 5") == "i'd rate it four out of five"
    assert dlm.cardinal(745) == "seven hundred forty five"
    assert dlm.ordinal(21) == "twenty first" and dlm.ordinal(30) == "thirtieth"


def test_the_corpus_is_dictionary_words_with_spoken_numbers() -> None:
    sentences, dropped = dlm.domain_corpus(samples_per_template=2)
    vocab = dlm.dictionary_words()
    assert len(sentences) > 500
    assert all(w in vocab for s in sentences for w in s)
    assert set(dropped) <= {"eta", "hiya"}  # NLU examples the dictionary cannot say
    texts = {" ".join(s) for s in sentences}
    assert "check my order one zero zero three" in texts  # an NLU training example
    assert any(t.startswith("my confirmation number is a p t ") for t in texts)


# -- the shipped model file ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def domain_arpa() -> Path:
    return dlm.domain_lm_path()


def test_the_domain_arpa_file_is_valid_and_pocketsphinx_reads_it_the_same(domain_arpa: Path) -> None:
    from pocketsphinx import NGramModel

    header, model = dlm.read_arpa(domain_arpa)
    assert header == {n: len(model[n]) for n in (1, 2, 3)}
    assert all(logp <= 0 for level in model.values() for logp, _ in level.values())
    assert all(bow is not None for n in (1, 2) for _, bow in model[n].values())
    assert all(bow is None for _, bow in model[3].values())
    for n in (2, 3):  # a backoff model needs every n-gram's prefix and suffix one order down
        assert all(g[:-1] in model[n - 1] and g[1:] in model[n - 1] for g in model[n])
    assert ("order",) in model[1] and ("order", "number") in model[2]
    assert len(model[1]) > dlm.GENERIC_VOCAB  # generic words stay reachable
    loaded = NGramModel.readfile(str(domain_arpa))
    to_log10 = math.log10(1.0001)
    for gram in [("order",), ("order", "number"), ("my", "order", "number"), ("number", "zero", "weather")]:
        ours = _backed_off(model, gram)
        assert loaded.prob(list(reversed(gram))) * to_log10 == pytest.approx(ours, abs=2e-3), gram


def test_the_model_is_cached_by_a_hash_of_its_inputs(
    domain_arpa: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert dlm.domain_lm_path() == domain_arpa  # built once, then reused
    monkeypatch.setenv("VOICEFLOW_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(dlm, "SAMPLES_PER_TEMPLATE", 2)
    small = dlm.domain_lm_path()
    assert small.parent == (tmp_path / "stt").resolve() and small.name != domain_arpa.name
    mtime = small.stat().st_mtime_ns
    assert dlm.domain_lm_path() == small and small.stat().st_mtime_ns == mtime
    assert [p.name for p in small.parent.iterdir()] == [small.name]  # no temp files left


def test_engine_options_are_checked(domain_arpa: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="either"):
        PocketsphinxEngine(domain_lm=True, lm=domain_arpa)
    with pytest.raises(ValueError, match="not a file"):
        PocketsphinxEngine(lm=tmp_path / "missing.arpa")
    engine = PocketsphinxEngine(domain_lm=True, channel="phone")
    assert engine.options["lm"] == str(domain_arpa) and engine.options["lw"] == 5.5
    assert "lm" not in PocketsphinxEngine().options  # the generic model stays the default


# -- recognition on the held-out caller set ------------------------------------------------------
def _figures(recognised: list[Recognised]) -> tuple[float, float, float]:
    wer = word_error_rate([(r.sentence.spoken, r.hypothesis) for r in recognised])
    recall = keyword_recall([(r.sentence.keywords, r.hypothesis) for r in recognised])
    digits = keyword_recall(
        [
            (tuple(k for k in r.sentence.keywords if k in DIGITS), r.hypothesis)
            for r in recognised
            if any(k in DIGITS for k in r.sentence.keywords)
        ]
    )
    return wer, recall, digits


def test_domain_lm_beats_the_generic_lm_on_the_held_out_phone_round_trip(domain_arpa: Path) -> None:
    generic = recognise_all(PocketsphinxEngine(channel="phone"))
    domain = recognise_all(PocketsphinxEngine(channel="phone", domain_lm=True))
    assert all(not r.errors for r in generic + domain)
    g_wer, g_recall, g_digits = _figures(generic)
    d_wer, d_recall, d_digits = _figures(domain)
    print(f"\ngeneric LM: WER {g_wer:.3f}, keyword recall {g_recall:.3f}, digits {g_digits:.3f}")
    print(f"domain LM:  WER {d_wer:.3f}, keyword recall {d_recall:.3f}, digits {d_digits:.3f}")
    for r in domain:
        e, n = word_errors(r.sentence.spoken, r.hypothesis)
        if e:
            print(f"  {e}/{n}  {r.sentence.spoken!r} -> {r.hypothesis!r}")
    assert d_wer <= DOMAIN_WER_BOUND
    assert d_wer < g_wer
    assert d_recall >= DOMAIN_KEYWORD_RECALL_BOUND
    assert d_digits >= DOMAIN_DIGIT_RECALL_BOUND
