"""Voice-sized chunks: about 300 characters, cut between sentences.

A chunk is what the agent may read out, so it must never stop mid-sentence.
Only a sentence longer than the limit is cut, first at clause punctuation, then
between words (a single word longer than the limit stays whole). Joining a
section's chunks with single spaces gives back its text exactly (whitespace
normalised), so nothing is lost or reordered.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

from voiceflow.processors.rag.documents import Section

DEFAULT_CHUNK_CHARS = 300

# candidate boundaries: terminal punctuation (plus closing quotes/brackets), then whitespace
_BOUNDARY = re.compile(r"[.!?]+[\"')\]]*(?=\s)")
_NEXT_STARTS_SENTENCE = re.compile(r"\s+[\"'(\[]?[A-Z0-9$]")
_ABBREVIATIONS = frozenset("mr mrs ms dr st no vs e.g i.e inc jr sr approx dept ext fig mt u.s".split())
_CLAUSE_BREAK = re.compile(r"(?<=[,;:\u2014\u2013])\s+")


@dataclass(frozen=True, slots=True)
class Chunk:
    """One retrievable piece of the knowledge base.

    ``text`` is what may be spoken; ``heading`` (``Returns > Refunds``) and ``source``
    (path inside kb/) say where it came from; ``score`` is the cosine similarity to the
    query that found it (0 before any search).
    """

    text: str
    source: str
    heading: str
    score: float = 0.0
    index: int = -1

    @property
    def id(self) -> str:
        return f"{self.source}#{self.index}"

    @property
    def context_text(self) -> str:
        """What gets embedded: the heading path as context prefix, then the text."""
        return f"{self.heading.replace(' > ', ': ')}. {self.text}" if self.heading else self.text

    def with_score(self, score: float) -> Chunk:
        return replace(self, score=score)


def normalize_space(text: str) -> str:
    return " ".join(text.split())


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text`` (whitespace normalised); ``" ".join`` of the result gives it back."""
    text = normalize_space(text)
    sentences: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        end = match.end()
        if not _NEXT_STARTS_SENTENCE.match(text, end):
            continue
        word = text[start:end].rsplit(" ", 1)[-1].rstrip(".!?\"')]").lower()
        if match.group().startswith(".") and word in _ABBREVIATIONS:
            continue
        sentences.append(text[start:end])
        start = end + 1
    if start < len(text):
        sentences.append(text[start:])
    return sentences


def _pack(units: Iterable[str], limit: int) -> list[str]:
    """Greedily join units with spaces into pieces of at most ``limit`` characters."""
    pieces: list[str] = []
    current = ""
    for unit in units:
        if not current:
            current = unit
        elif len(current) + 1 + len(unit) <= limit:
            current = f"{current} {unit}"
        else:
            pieces.append(current)
            current = unit
    if current:
        pieces.append(current)
    return pieces


def _split_long_sentence(sentence: str, limit: int) -> list[str]:
    units: list[str] = []
    for clause in _CLAUSE_BREAK.split(sentence):
        units.extend([clause] if len(clause) <= limit else clause.split(" "))
    return _pack(units, limit)


def chunk_text(text: str, limit: int = DEFAULT_CHUNK_CHARS) -> list[str]:
    """Pieces of at most ``limit`` characters (unless one word is longer), cut between sentences.

    Sentences are packed greedily to learn how many pieces are needed, then
    repacked under the smallest cap that needs no more pieces, so a section
    splits into even pieces instead of a full one and a stub.
    """
    if limit < 1:
        raise ValueError("the chunk limit must be at least one character")
    units: list[str] = []
    for sentence in split_sentences(text):
        units.extend([sentence] if len(sentence) <= limit else _split_long_sentence(sentence, limit))
    pieces = _pack(units, limit)
    if len(pieces) < 2:
        return pieces
    low, high = max(min(len(u), limit) for u in units), limit
    while low < high:  # smallest cap that packs into as few pieces as the limit does
        cap = (low + high) // 2
        if len(_pack(units, cap)) <= len(pieces):
            high = cap
        else:
            low = cap + 1
    return _pack(units, low)


def chunk_sections(sections: Iterable[Section], limit: int = DEFAULT_CHUNK_CHARS) -> list[Chunk]:
    """Chunks of every section, numbered in order, each keeping its source and heading."""
    chunks: list[Chunk] = []
    for section in sections:
        for piece in chunk_text(section.text, limit):
            chunks.append(
                Chunk(text=piece, source=section.source, heading=section.heading, index=len(chunks))
            )
    return chunks
