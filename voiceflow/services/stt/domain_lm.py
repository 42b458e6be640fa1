"""A trigram language model of what callers say to the agent, for pocketsphinx.

pocketsphinx's bundled LM is general English, so on a phone line "order one zero zero
two" comes out as "award one hero here and two". This module writes the sentences the
agent is built to hear — the NLU training examples (``nlu/data/intents.json``; never
the held-out ``intents_test.json`` or the caller sentence set) and the templates in
``data/domain_templates.txt`` filled with order numbers, dates, times, e-mails, phone
and confirmation numbers and names — in words of pocketsphinx's dictionary, then
builds an interpolated modified Kneser-Ney trigram model from them and writes it as
ARPA. The unigram level is mixed with the generic LM's unigrams (weight
``GENERIC_WEIGHT``) so words the corpus never saw stay reachable through backoff.

The file is built at first use (a few seconds) and cached under
``.voiceflow/cache/stt`` (or ``$VOICEFLOW_CACHE_DIR/stt``), named by a hash of every
input, so editing a template rebuilds it and nothing stale is ever loaded.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import re
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources
from pathlib import Path

BUILDER_VERSION = "1"
ORDER = 3
#: share of the unigram level given to the generic LM's unigrams
GENERIC_WEIGHT = 0.15
#: how many of the generic LM's most frequent words are kept (the rest stay unreachable)
GENERIC_VOCAB = 20_000
#: sentences drawn per template and unit of weight; NLU examples count this many times
SAMPLES_PER_TEMPLATE = 30
INTENT_REPEATS = 3
SEED = 20240601

BOS, EOS = "<s>", "</s>"
Ngram = tuple[str, ...]
#: per order (1..N): n-gram → (log10 probability, log10 backoff weight or None at the top order)
ArpaModel = dict[int, dict[Ngram, tuple[float, float | None]]]

_ONES = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen \
sixteen seventeen eighteen nineteen".split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_ORDINAL_ONES = "zeroth first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth \
thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth".split()
_ORDINAL_TENS = "_ _ twentieth thirtieth fortieth fiftieth sixtieth seventieth eightieth ninetieth".split()
_LETTERS = "a b c d e f g h i j k l m n o p q r s t u v w x y z".split()


# -- numbers as words ----------------------------------------------------------------------------
def cardinal(n: int) -> str:
    """0..999 as spoken ("forty five", "three hundred twelve")."""
    if not 0 <= n < 1000:
        raise ValueError(f"cardinal() covers 0..999, got {n}")
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + (f" {_ONES[ones]}" if ones else "")
    hundreds, rest = divmod(n, 100)
    return f"{_ONES[hundreds]} hundred" + (f" {cardinal(rest)}" if rest else "")


def ordinal(n: int) -> str:
    """1..99 as an ordinal ("twenty first")."""
    if not 1 <= n < 100:
        raise ValueError(f"ordinal() covers 1..99, got {n}")
    if n < 20:
        return _ORDINAL_ONES[n]
    tens, ones = divmod(n, 10)
    return f"{_TENS[tens]} {_ORDINAL_ONES[ones]}" if ones else _ORDINAL_TENS[tens]


def digits(text: str) -> str:
    return " ".join(_ONES[int(d)] for d in text)


# -- normalising written text to dictionary words ------------------------------------------------
_EMAIL = re.compile(r"([a-z]+)(?:[._]([a-z]+))?@([a-z]+)\.([a-z]+)")
_CODE = re.compile(r"\b([a-z]+)-(\d+)\b")
_PHONE = re.compile(r"\b\d{3}-\d{3}-\d{4}\b")
#: digits written in hyphen-joined groups ("9-3-16", Whisper's way with a digit string): said digit by digit
_DIGIT_GROUPS = re.compile(r"\b\d+(?:-\d+)+\b")
_ORDINAL_NUM = re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)\b")
_CLOCK = re.compile(r"\b(\d{1,2})\s*(am|pm)\b")
_NUMBER = re.compile(r"\d+")


def _number_words(match: re.Match[str]) -> str:
    text = match.group(0)
    # "03" (a zip code's tail, a digit string split by the writer) is "zero three", not "three"
    return cardinal(int(text)) if len(text) <= 2 and not (len(text) == 2 and text[0] == "0") else digits(text)


def spoken_form(text: str) -> str:
    """Written caller text as it is said: "APT-123" → "a p t one two three", "3 pm" → "three p m"."""
    s = text.lower().replace("#", " ")
    s = _EMAIL.sub(lambda m: " dot ".join(filter(None, m.group(1, 2))) + f" at {m[3]} dot {m[4]}", s)
    s = _CODE.sub(lambda m: " ".join(m[1]) + " " + digits(m[2]), s)
    s = _PHONE.sub(lambda m: digits(m[0].replace("-", "")), s)
    s = _DIGIT_GROUPS.sub(lambda m: digits(m[0].replace("-", "")), s)
    s = _ORDINAL_NUM.sub(lambda m: ordinal(int(m[1])), s)
    s = _CLOCK.sub(lambda m: f"{m[1]} {m[2][0]} m", s)
    s = _NUMBER.sub(_number_words, s)
    return " ".join(re.findall(r"[a-z]+(?:'[a-z]+)?", s))


@cache
def dictionary_path() -> Path:
    from pocketsphinx import get_model_path

    return Path(get_model_path()) / "en-us" / "cmudict-en-us.dict"


@cache
def dictionary_words() -> frozenset[str]:
    """The words pocketsphinx can recognise (its bundled pronouncing dictionary)."""
    with open(dictionary_path(), encoding="utf-8") as f:
        return frozenset(line.split(" ", 1)[0] for line in f if line and "(" not in line.split(" ", 1)[0])


# -- the corpus ----------------------------------------------------------------------------------
def _data(name: str) -> str:
    return resources.files("voiceflow.services.stt").joinpath(f"data/{name}").read_text("utf-8")


def _intents_text() -> str:
    return resources.files("voiceflow.processors.nlu").joinpath("data/intents.json").read_text("utf-8")


class _Slots:
    """Fills ``{slot}`` from the slot lists or from a generator of spoken numbers, dates and times."""

    def __init__(self, lists: Mapping[str, list[str]], rng: random.Random) -> None:
        self.lists, self.rng = lists, rng

    def fill(self, name: str) -> str:
        pick = self.rng.choice
        if name in self.lists:
            return pick(self.lists[name])
        rnd = self.rng.randint
        if name == "digits":
            return self._digit_run(rnd(3, 8))
        if name == "phone":
            return self._digit_run(pick((7, 10, 10)))
        if name == "order":
            number = rnd(1000, 9999)
            if self.rng.random() < 0.7:
                return self._digit_run(4, str(number))
            high, low = divmod(number, 100)
            tail = "hundred" if low == 0 else f"oh {_ONES[low]}" if low < 10 else cardinal(low)
            return f"{cardinal(high)} {tail}"
        if name == "confirmation":
            return "a p t " + self._digit_run(6)
        if name == "hour":
            return cardinal(rnd(1, 12))
        if name == "minute":
            return pick(("fifteen", "thirty", "forty five", "twenty", "ten", f"oh {_ONES[rnd(1, 9)]}"))
        if name == "time":
            return self._time()
        if name == "date":
            return self._date()
        if name == "email":
            user = pick((self.fill("first"), f"{self.fill('first')} dot {self.fill('last')}"))
            return f"{user} at {self.fill('email_domain')} dot {self.fill('email_tld')}"
        if name == "amount":
            return f"{cardinal(rnd(1, 999))} dollars" + pick(("", f" and {cardinal(rnd(1, 99))} cents"))
        if name == "letters":
            return " ".join(pick(_LETTERS) for _ in range(rnd(2, 5)))
        raise KeyError(f"unknown template slot {{{name}}}")

    def _digit_run(self, n: int, text: str | None = None) -> str:
        text = text or "".join(str(self.rng.randint(0, 9)) for _ in range(n))
        return " ".join("oh" if d == "0" and self.rng.random() < 0.2 else _ONES[int(d)] for d in text)

    def _time(self) -> str:
        hour = self.fill("hour")
        return self.rng.choice(
            (
                f"{hour} p m",
                f"{hour} a m",
                f"{hour} pm",
                f"{hour} o'clock",
                hour,
                f"{hour} {self.fill('minute')}",
                f"half past {hour}",
                f"quarter (past|to) {hour}",
                f"{hour} in the (morning|afternoon|evening)",
                "noon",
            )
        )

    def _date(self) -> str:
        day = ordinal(self.rng.randint(1, 31))
        weekday, month = self.fill("weekday"), self.fill("month")
        return self.rng.choice(
            (
                weekday,
                f"next {weekday}",
                f"this {weekday}",
                f"{weekday} (morning|afternoon)",
                f"{month} {day}",
                f"{month} the {day}",
                f"the {day}",
                f"the {day} of {month}",
                "(today|tomorrow|tomorrow morning|next week|the day after tomorrow)",
            )
        )


_ALTERNATIVES = re.compile(r"\(([^()]*)\)")
_SLOT = re.compile(r"\{(\w+)\}")


def expand(template: str, slots: _Slots) -> str:
    """One random sentence from a template: slots filled, then each "(a|b|)" resolved."""
    text = _SLOT.sub(lambda m: slots.fill(m[1]), template)
    while "(" in text:  # slots may bring alternatives of their own
        text = _ALTERNATIVES.sub(lambda m: slots.rng.choice(m[1].split("|")), text)
    return " ".join(text.split())


def domain_corpus(samples_per_template: int | None = None) -> tuple[list[list[str]], Counter[str]]:
    """(sentences as dictionary words, out-of-vocabulary words whose sentences were dropped)."""
    samples_per_template = samples_per_template or SAMPLES_PER_TEMPLATE
    vocab = dictionary_words()
    lists = {
        name: [v for v in values if all(w in vocab for w in v.split())]
        for name, values in json.loads(_data("domain_slots.json"))["slots"].items()
    }
    slots = _Slots(lists, random.Random(SEED))
    texts: list[str] = []
    for example in (e for i in json.loads(_intents_text())["intents"].values() for e in i["examples"]):
        texts.extend([spoken_form(example)] * INTENT_REPEATS)
    for line in _data("domain_templates.txt").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        weighted = re.match(r"(\d+)\|(.*)", line)
        weight, template = (int(weighted[1]), weighted[2]) if weighted else (1, line)
        drawn = {expand(template, slots) for _ in range(weight * samples_per_template)}
        texts.extend(sorted(drawn))
    sentences: list[list[str]] = []
    dropped: Counter[str] = Counter()
    for text in texts:
        words = text.split()
        missing = [w for w in words if w not in vocab]
        if missing:
            dropped.update(missing)
        elif words:
            sentences.append(words)
    return sentences, dropped


# -- interpolated modified Kneser-Ney ------------------------------------------------------------
def modified_discounts(counts: Iterable[int]) -> tuple[float, float, float]:
    """Chen & Goodman's D1, D2, D3+ from the count-of-counts (absolute discounting if they are degenerate)."""
    n = Counter(c for c in counts if c <= 4)
    n1, n2, n3, n4 = (n[k] for k in (1, 2, 3, 4))
    y = n1 / (n1 + 2 * n2) if n1 + n2 else 0.5
    if min(n1, n2, n3, n4) == 0:
        d = min(max(y, 0.1), 0.9)
        return d, d, d
    found = (1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3)
    return tuple(min(max(d, 0.1), k - 0.05) for k, d in enumerate(found, 1))  # type: ignore[return-value]


def _adjusted_counts(sentences: Iterable[list[str]], order: int) -> list[dict[Ngram, int]]:
    """Per order (index n-1): raw counts at the top order; below it, the number of distinct
    left extensions (Kneser-Ney continuation counts), raw counts for n-grams starting at <s>."""
    top: Counter[Ngram] = Counter()
    lower: list[Counter[Ngram]] = [Counter() for _ in range(order - 1)]
    for words in sentences:
        tokens = [BOS, *words, EOS]
        for n in range(1, order + 1):
            for i in range(len(tokens) - n + 1):
                gram = tuple(tokens[i : i + n])
                if n == order:
                    top[gram] += 1
                elif gram[0] == BOS:
                    lower[n - 1][gram] += 1
    adjusted: list[dict[Ngram, int]] = [dict(c) for c in lower] + [dict(top)]
    for n in range(order, 1, -1):  # each distinct n-gram is one left extension of its suffix
        below = adjusted[n - 2]
        for gram in adjusted[n - 1]:
            below[gram[1:]] = below.get(gram[1:], 0) + 1
    adjusted[0].pop((BOS,), None)  # <s> is never predicted
    return adjusted


def build_kneser_ney(
    sentences: Iterable[list[str]],
    order: int = ORDER,
    *,
    discount: float | None = None,
    base_unigrams: Mapping[str, float] | None = None,
    base_weight: float = 0.0,
) -> ArpaModel:
    """An interpolated modified Kneser-Ney model in backoff (ARPA) form.

    ``discount`` fixes D for every count (tests); by default D1/D2/D3+ come from the data.
    ``base_unigrams`` (probabilities summing to 1) are mixed into the unigram level with
    ``base_weight``; higher orders interpolate with the mixed unigrams.
    """
    adjusted = _adjusted_counts(sentences, order)
    probs: list[dict[Ngram, float]] = []
    gammas: list[dict[Ngram, float]] = []
    for n in range(1, order + 1):
        counts = adjusted[n - 1]
        d1, d2, d3 = (discount,) * 3 if discount is not None else modified_discounts(counts.values())
        totals: dict[Ngram, float] = defaultdict(float)
        freed: dict[Ngram, float] = defaultdict(float)
        for gram, c in counts.items():
            d = d1 if c == 1 else d2 if c == 2 else d3
            totals[gram[:-1]] += c
            freed[gram[:-1]] += d
        gamma = {h: freed[h] / totals[h] for h in totals}
        level: dict[Ngram, float] = {}
        for gram, c in counts.items():
            d = d1 if c == 1 else d2 if c == 2 else d3
            h = gram[:-1]
            lower = probs[-1][gram[1:]] if n > 1 else 1.0 / len(counts)
            level[gram] = (c - d) / totals[h] + gamma[h] * lower
        if n == 1 and base_unigrams:
            mixed = {g: (1 - base_weight) * p for g, p in level.items()}
            for word, p in base_unigrams.items():
                mixed[(word,)] = mixed.get((word,), 0.0) + base_weight * p
            level = mixed
        probs.append(level)
        gammas.append(gamma)
    model: ArpaModel = {}
    for n in range(1, order + 1):
        backoffs = gammas[n] if n < order else {}
        entries: dict[Ngram, tuple[float, float | None]] = {}
        for gram, p in probs[n - 1].items():
            bow = math.log10(backoffs[gram]) if gram in backoffs else 0.0
            entries[gram] = (math.log10(p), bow if n < order else None)
        if n == 1:
            entries[(BOS,)] = (-99.0, math.log10(backoffs[(BOS,)]) if (BOS,) in backoffs else 0.0)
        model[n] = entries
    return model


def write_arpa(model: ArpaModel, path: str | Path) -> None:
    """Write ``model`` as an ARPA file, atomically (a crash never leaves half a cache entry)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("\\data\\\n")
        for n, entries in model.items():
            f.write(f"ngram {n}={len(entries)}\n")
        for n, entries in model.items():
            f.write(f"\n\\{n}-grams:\n")
            for gram in sorted(entries):
                logp, bow = entries[gram]
                f.write(f"{logp:.6f}\t{' '.join(gram)}" + (f"\t{bow:.6f}\n" if bow is not None else "\n"))
        f.write("\n\\end\\\n")
    tmp.replace(path)


def read_arpa(path: str | Path) -> tuple[dict[int, int], ArpaModel]:
    """(header counts, model) of an ARPA file; raises ValueError on a malformed one."""
    header: dict[int, int] = {}
    model: ArpaModel = {}
    section = 0
    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = raw.strip()
            if not line or line in ("\\data\\", "\\end\\"):
                continue
            if m := re.fullmatch(r"ngram (\d+)=(\d+)", line):
                header[int(m[1])] = int(m[2])
            elif m := re.fullmatch(r"\\(\d+)-grams:", line):
                section = int(m[1])
                model[section] = {}
            elif section:
                fields = line.split("\t")
                gram = tuple(fields[1].split())
                if len(gram) != section or len(fields) > 3:
                    raise ValueError(f"{path}: bad {section}-gram line {line!r}")
                model[section][gram] = (float(fields[0]), float(fields[2]) if len(fields) == 3 else None)
            else:
                raise ValueError(f"{path}: unexpected line {line!r}")
    return header, model


# -- the generic LM's unigrams and the cached file -----------------------------------------------
def generic_unigrams(limit: int = GENERIC_VOCAB) -> dict[str, float]:
    """The bundled generic LM's ``limit`` most probable dictionary words, renormalised."""
    from pocketsphinx import NGramModel, get_model_path

    generic = NGramModel.readfile(str(Path(get_model_path()) / "en-us" / "en-us.lm.bin"))
    to_log10 = math.log10(1.0001)  # NGramModel.prob answers in the decoder's log base 1.0001
    scored = [(generic.prob([w]) * to_log10, w) for w in sorted(dictionary_words())]
    kept = sorted((s, w) for s, w in scored if s > -30)[-limit:]
    total = sum(10**s for s, _ in kept)
    return {w: 10**s / total for s, w in kept}


def cache_dir() -> Path:
    return Path(os.environ.get("VOICEFLOW_CACHE_DIR", ".voiceflow/cache")) / "stt"


def _inputs_key() -> str:
    digest = hashlib.sha256()
    for part in (
        BUILDER_VERSION,
        f"{ORDER}|{GENERIC_WEIGHT}|{GENERIC_VOCAB}|{SAMPLES_PER_TEMPLATE}|{INTENT_REPEATS}|{SEED}",
        _data("domain_templates.txt"),
        _data("domain_slots.json"),
        _intents_text(),
        f"{dictionary_path()}|{dictionary_path().stat().st_size}",
    ):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def build_domain_lm(path: str | Path) -> ArpaModel:
    """Generate the corpus and write the domain LM to ``path``."""
    sentences, _ = domain_corpus()
    model = build_kneser_ney(sentences, ORDER, base_unigrams=generic_unigrams(), base_weight=GENERIC_WEIGHT)
    write_arpa(model, path)
    return model


_build_lock = threading.Lock()


def domain_lm_path() -> Path:
    """The domain LM's ARPA file (absolute), built on first use and cached by a hash of its inputs."""
    path = (cache_dir() / f"domain-{_inputs_key()}.arpa").resolve()
    with _build_lock:
        if not path.exists():
            build_domain_lm(path)
    return path
