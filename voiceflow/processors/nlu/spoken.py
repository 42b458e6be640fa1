"""Spoken-form normalisation shared by the entity extractors.

Recognisers write numbers the way they were said ("one zero zero two", "double
five", "a p t"), so before the regexes look for order ids, phones or
confirmation numbers we fold digit-word runs into digits and spelled letters
into words. Number words ("twenty first") are parsed for dates, times, ratings.
"""

from __future__ import annotations

import re

from voiceflow.number_words import DIGIT_WORDS, REPEATERS, TEENS

UNITS: dict[str, int] = {w: int(d) for w, d in DIGIT_WORDS.items() if w not in ("oh", "o")} | TEENS
TENS: dict[str, int] = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50}
ORDINALS: dict[str, int] = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
    "eleventh": 11,
    "twelfth": 12,
    "thirteenth": 13,
    "fourteenth": 14,
    "fifteenth": 15,
    "sixteenth": 16,
    "seventeenth": 17,
    "eighteenth": 18,
    "nineteenth": 19,
    "twentieth": 20,
    "thirtieth": 30,
}

#: one regex alternative matching a number written in words (cardinal or ordinal, up to 59)
_UNIT_ALT = "|".join(sorted(UNITS, key=len, reverse=True))
_ORD_ALT = "|".join(sorted(ORDINALS, key=len, reverse=True))
_TENS_ALT = "|".join(TENS)
NUMBER_WORDS_RE = rf"(?:(?:{_TENS_ALT})(?:[\s-]+(?:{_ORD_ALT}|{_UNIT_ALT}))?|{_ORD_ALT}|{_UNIT_ALT})"


def number_value(text: str) -> int | None:
    """``"21"``, ``"21st"``, ``"twenty first"``, ``"twenty-one"``, ``"fifth"`` -> int; else None."""
    s = text.strip().lower()
    digits = re.fullmatch(r"(\d+)(?:st|nd|rd|th)?", s)
    if digits:
        return int(digits.group(1))
    parts = re.split(r"[\s-]+", s)
    total = 0
    for i, part in enumerate(parts):
        if part in TENS and i == 0:
            total += TENS[part]
        elif part in UNITS and (i == len(parts) - 1):
            if i > 0 and (UNITS[part] == 0 or UNITS[part] >= 10):
                return None
            total += UNITS[part]
        elif part in ORDINALS and (i == len(parts) - 1):
            if i > 0 and ORDINALS[part] >= 10:
                return None
            total += ORDINALS[part]
        else:
            return None
    return total


def fold_spoken_digits(text: str) -> str:
    """Replace runs of spoken digits with the digits: ``"order one oh oh two"`` -> ``"order 1002"``.

    A run must yield at least two digits, and ``oh``/``o`` count only after a real
    digit word, so "oh I see" and "one appointment" stay as they are.
    """
    tokens = text.split(" ")
    punctuation = ",.?!;:"  # Whisper ends a sentence on the last digit word ("one zero zero two?")
    out: list[str] = []
    i = 0
    while i < len(tokens):
        j = i
        digits: list[str] = []
        real_words = 0
        while j < len(tokens):
            word = tokens[j].lower().strip(punctuation)
            if word in REPEATERS and j + 1 < len(tokens):
                nxt = tokens[j + 1].lower().strip(punctuation)
                if nxt in DIGIT_WORDS:
                    digits.append(DIGIT_WORDS[nxt] * REPEATERS[word])
                    real_words += 1
                    j += 2
                    continue
            if word in DIGIT_WORDS and (real_words or word not in ("oh", "o")):
                digits.append(DIGIT_WORDS[word])
                real_words += word not in ("oh", "o")
                j += 1
                continue
            if word.isdigit() and real_words:
                digits.append(word)
                j += 1
                continue
            break
        if real_words and len("".join(digits)) >= 2:
            out.append("".join(digits))
            i = j
        else:
            out.append(tokens[i])
            i += 1
    return " ".join(out)


def join_spelled_letters(text: str) -> str:
    """``"a p t 4 8 2"`` -> ``"apt 4 8 2"``: runs of three or more single letters become a word."""
    return re.sub(
        r"\b[a-z](?:[\s.-][a-z]){2,}\b",
        lambda m: re.sub(r"[\s.-]", "", m.group(0)),
        text,
        flags=re.IGNORECASE,
    )


def join_spaced_digits(text: str) -> str:
    """``"4 8 2 9 1 3"`` -> ``"482913"``: single digits said one by one (four or more), also as
    a recognizer writes them with commas (``"0, 0, 5, 5"``)."""
    return re.sub(r"\b\d(?:,? \d){3,}\b", lambda m: re.sub(r",? ", "", m.group(0)), text)


_DIGIT_GROUPS = re.compile(r"\b\d{1,4}(?:-\d{1,4})+\b")


def join_digit_groups(text: str) -> str:
    """``"9-3-16"`` -> ``"9316"``: digits read out one by one, written by a recognizer (Whisper)
    in hyphenated groups. Shapes that mean something else keep their hyphens: a 3-3-4 phone
    number (the phone reader knows it), an ISO date (2025-12-24), two short groups (a range
    or a day, "3-4", "12-24")."""

    def join(m: re.Match[str]) -> str:
        groups = m.group(0).split("-")
        sizes = [len(g) for g in groups]
        phone = sizes == [3, 3, 4]
        iso_date = len(sizes) == 3 and sizes[0] == 4 and max(sizes[1:]) <= 2
        short_pair = len(sizes) == 2 and max(sizes) <= 2
        return m.group(0) if phone or iso_date or short_pair else "".join(groups)

    return _DIGIT_GROUPS.sub(join, text)


_ONE_TO_NINE = "one|two|three|four|five|six|seven|eight|nine"
_TEEN_ALT = "|".join(sorted(TEENS, key=len, reverse=True))
#: a two-digit number said as one: "ten", "twenty", "twenty-two" (not 1-9, which are digits)
_PAIR = rf"(?:(?:{_TENS_ALT})(?:[\s-]+(?:{_ONE_TO_NINE}))?|{_TEEN_ALT})"
_ORDER_CUE = r"\border(?:\s+(?:number|no\.?|num|id))?\s*(?:is\s+|of\s+)?#?\s*"
_ORDER_PAIRS_SAID = re.compile(rf"({_ORDER_CUE})({_PAIR})[\s-]+((?:oh|o)[\s-]+(?:{_ONE_TO_NINE})|{_PAIR})\b")
_ORDER_PAIRS_WRITTEN = re.compile(rf"({_ORDER_CUE})(\d{{1,2}})[-:](\d{{2}})\b")
_THOUSANDS = re.compile(r"\b(\d{1,3}),(\d{3})\b")


def _pair_digits(said: str) -> str:
    words = re.split(r"[\s-]+", said)
    if words[0] in ("oh", "o"):
        return "0" + DIGIT_WORDS[words[1]]
    value = number_value(said)
    return f"{value:02d}" if value is not None else said


def fold_order_pairs(text: str) -> str:
    """An order number said in pairs, as people say years: "order ten twenty-two", "order
    twelve oh five", and as a recognizer writes that ("order 10-22", "order 10:22") -> "order
    1022"; "1,002" -> "1002". Only after "order": elsewhere "ten twenty" is a time."""
    s = _THOUSANDS.sub(r"\1\2", text)
    s = _ORDER_PAIRS_WRITTEN.sub(lambda m: f"{m[1]}{int(m[2]):02d}{m[3]}", s)
    return _ORDER_PAIRS_SAID.sub(lambda m: m[1] + _pair_digits(m[2]) + _pair_digits(m[3]), s)


def normalise_for_numbers(text: str) -> str:
    """Lowercase text with spoken digits, spelled letters, spaced digits and digit groups folded."""
    s = " ".join(text.lower().split())
    s = fold_order_pairs(s)
    s = fold_spoken_digits(s)
    s = join_spelled_letters(s)
    s = join_digit_groups(s)
    return join_spaced_digits(s)
