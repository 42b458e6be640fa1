"""Cutting streamed reply text into clauses worth synthesizing on their own.

Synthesis starts as soon as a clause is complete, so the caller hears the
first words while the rest is still being generated. A sentence end (. ! ?)
followed by a space closes a clause; a softer break (, ; :) does too once the
clause is long enough to sound natural alone; very long runs are cut at a space.
Common abbreviations ("Dr.", "e.g.") and decimals ("3.5") are not sentence ends.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, AsyncIterable

_ABBREVIATIONS = frozenset(
    "mr mrs ms dr st jr sr prof vs etc e.g i.e a.m p.m no approx dept inc ltd co mt ave".split()
)
_HARD = ".!?"
_SOFT = ",;:"


class ClauseSplitter:
    """Feed text pieces with ``add``; complete clauses come back; ``flush`` returns the rest."""

    def __init__(self, *, soft_min_chars: int = 30, max_chars: int = 220) -> None:
        self.soft_min_chars = soft_min_chars
        self.max_chars = max_chars
        self._buf = ""

    @property
    def pending(self) -> str:
        return self._buf

    def reset(self) -> None:
        self._buf = ""

    def add(self, text: str) -> list[str]:
        self._buf += text
        out: list[str] = []
        while (cut := self._find_cut()) is not None:
            clause, self._buf = self._buf[:cut].strip(), self._buf[cut:].lstrip()
            if clause:
                out.append(clause)
        return out

    def flush(self) -> str | None:
        rest, self._buf = self._buf.strip(), ""
        return rest or None

    def _find_cut(self) -> int | None:
        buf = self._buf
        for m in re.finditer(r"[.!?,;:]+[\"')\]]*(?=\s)", buf):
            end = m.end()
            mark = m.group(0)[0]
            if mark in _HARD:
                if mark == "." and self._is_abbreviation(buf[: m.start()]):
                    continue
                return end
            if mark in _SOFT and len(buf[:end].strip()) >= self.soft_min_chars:
                return end
        if len(buf) > self.max_chars:
            space = buf.rfind(" ", 0, self.max_chars)
            return space if space > 0 else self.max_chars
        return None

    @staticmethod
    def _is_abbreviation(before: str) -> bool:
        word = before.rsplit(None, 1)[-1].lower() if before.strip() else ""
        return word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha())


#: words a spoken phrase does not stop on ("On Saturday we're | open" cuts after "open")
_LEANING = frozenset(
    "the a an to of for in on at with by from and or but my your our their its this that "
    "is are was were be we we're i i'm it it's you you're can will would could".split()
)


def head_phrase(clause: str, *, words: int = 3) -> tuple[str, str] | None:
    """(first few words, the rest) of a long clause, or None when it is short enough.

    A synthesizer that makes a whole clause before the first sample (Piper) speaks sooner when
    the first clause of a reply is said in two goes: the head takes a third of the time. The cut
    comes after a comma among the first words, else after ``words`` words, moved on past words
    that lean on the next one (articles, prepositions, pronouns), so the seam is a phrase break.
    """
    tokens = clause.split()
    if words <= 0 or len(tokens) < words + 3:
        return None
    cut = next((i + 1 for i, t in enumerate(tokens[: words + 1]) if t[-1] in _SOFT and i > 0), None)
    if cut is None:
        cut = words
        while cut < len(tokens) - 2 and tokens[cut - 1].lower().strip("\"'") in _LEANING:
            cut += 1
    if cut >= len(tokens) - 1:
        return None
    return " ".join(tokens[:cut]), " ".join(tokens[cut:])


def split_clauses(text: str, *, soft_min_chars: int = 30) -> list[str]:
    """All clauses of a complete text."""
    splitter = ClauseSplitter(soft_min_chars=soft_min_chars)
    clauses = splitter.add(text)
    rest = splitter.flush()
    return [*clauses, rest] if rest else clauses


async def stream_clauses(
    pieces: AsyncIterable[str], *, soft_min_chars: int = 30
) -> AsyncGenerator[str, None]:
    """Clauses of text arriving in pieces (LLM tokens), each as soon as it is complete, the rest last."""
    splitter = ClauseSplitter(soft_min_chars=soft_min_chars)
    async for piece in pieces:
        for clause in splitter.add(piece):
            yield clause
    rest = splitter.flush()
    if rest:
        yield rest
