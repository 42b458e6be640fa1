"""A digits view of spoken text that remembers where every character came from.

Recognisers write numbers as words ("four one one one", "double five", "twelve
thirty four", "nineteen eighty five"). The PII patterns look at a view where each
run of number words became one digit string, and a match there maps back to the
exact words in the original text, so it is the words that get redacted.

(The NLU's ``fold_spoken_digits`` folds the same vocabulary, ``voiceflow.number_words``, but
returns only the new text; redaction needs the offsets, hence this small separate pass.)
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from voiceflow.number_words import DIGIT_WORDS, REPEATERS, TEENS

__all__ = ["DigitView", "digit_view"]

_TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
_TOKEN = re.compile(r"[A-Za-z]+|\d+|\S")
_ANY_NUMBER_WORD = re.compile(
    r"\b(?:zero|oh|o|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|\w+teen|twenty|thirty|"
    r"forty|fifty|sixty|seventy|eighty|ninety|hundred|thousand|double|triple)\b",
    re.IGNORECASE,
)
_JOINERS = re.compile(r"^[\s,-]*$")  # what may stand between two number words of one run


@dataclass
class DigitView:
    """``text`` with number-word runs as digits; ``span`` maps a view range back into ``original``.

    Each folded word run is one segment (view start/end, original start/end); between
    segments the view is the original shifted by a constant, so the map is a bisect.
    """

    original: str
    text: str
    #: per folded run: (view start, view end, original start, original end), in order
    runs: list[tuple[int, int, int, int]]

    def __post_init__(self) -> None:
        self._starts = [r[0] for r in self.runs]

    def _locate(self, i: int) -> tuple[int, int]:
        """Original (start, end) of view char ``i``: its whole word run, or the one char."""
        k = bisect.bisect_right(self._starts, i) - 1
        if k >= 0:
            _, v_end, o_start, o_end = self.runs[k]
            if i < v_end:
                return o_start, o_end
            shifted = i - v_end + o_end
            return shifted, shifted + 1
        return i, i + 1

    def span(self, begin: int, stop: int) -> tuple[int, int]:
        """The original span behind ``text[begin:stop]``."""
        return self._locate(begin)[0], self._locate(stop - 1)[1]


def _word_value(tokens: list[str], i: int) -> tuple[str, int] | None:
    """The digits said by the number words at ``tokens[i]`` and how many tokens they took."""
    word = tokens[i].lower()
    if word in DIGIT_WORDS and i + 1 < len(tokens) and tokens[i + 1].lower() == "thousand":
        return _thousands(tokens, i)
    if word in REPEATERS and i + 1 < len(tokens) and tokens[i + 1].lower() in DIGIT_WORDS:
        return DIGIT_WORDS[tokens[i + 1].lower()] * REPEATERS[word], 2
    if word in _TENS:
        if (
            i + 1 < len(tokens)
            and tokens[i + 1].lower() in DIGIT_WORDS
            and tokens[i + 1].lower() not in ("oh", "o")
        ):
            return str(_TENS[word] + int(DIGIT_WORDS[tokens[i + 1].lower()])), 2
        return str(_TENS[word]), 1
    if word in TEENS:
        return str(TEENS[word]), 1
    if word in DIGIT_WORDS:
        return DIGIT_WORDS[word], 1
    if word == "hundred":
        return "00", 1
    return None


def _thousands(tokens: list[str], i: int) -> tuple[str, int]:
    """ "two thousand (and) three" → "2003" (years are said this way)."""
    value, used = int(DIGIT_WORDS[tokens[i].lower()]) * 1000, 2
    k = i + 2
    if k < len(tokens) and tokens[k].lower() == "and":
        k += 1
    rest = _word_value(tokens, k) if k < len(tokens) and tokens[k].lower() != "thousand" else None
    if rest is not None and len(rest[0]) <= 2:
        value += int(rest[0])
        used = k - i + rest[1]
    return str(value), used


def digit_view(text: str) -> DigitView:
    """Fold every run of two or more number words (or one unambiguous one) into digits."""
    if not _ANY_NUMBER_WORD.search(text):
        return DigitView(text, text, [])
    matches = list(_TOKEN.finditer(text))
    words = [m.group() for m in matches]
    out: list[str] = []
    runs: list[tuple[int, int, int, int]] = []
    pos = 0  # next original char not yet copied
    length = 0  # view length so far
    i = 0
    while i < len(words):
        run: list[tuple[str, int, int]] = []  # (digits, original start, original end)
        j = i
        while j < len(words):
            if run and not _JOINERS.match(text[run[-1][2] : matches[j].start()]):
                break
            value = _word_value(words, j)
            if value is None:
                break
            digits, used = value
            run.append((digits, matches[j].start(), matches[j + used - 1].end()))
            j += used
        lone_letter = len(run) == 1 and words[i].lower() in ("o", "oh")
        if not run or lone_letter:
            i += 1
            continue
        out.append(text[pos : run[0][1]])
        length += run[0][1] - pos
        for digits, o_start, o_end in run:
            out.append(digits)
            runs.append((length, length + len(digits), o_start, o_end))
            length += len(digits)
        pos = run[-1][2]
        i = j
    out.append(text[pos:])
    return DigitView(text, "".join(out), runs)
