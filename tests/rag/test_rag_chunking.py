"""Chunking: size limit, sentence boundaries, nothing lost or reordered."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voiceflow.processors.rag.chunking import (
    DEFAULT_CHUNK_CHARS,
    chunk_sections,
    chunk_text,
    normalize_space,
    split_sentences,
)
from voiceflow.processors.rag.documents import Section, load_kb

REPO_KB = Path(__file__).resolve().parents[2] / "kb"

words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=14)
long_words = st.text(alphabet="abcdefghij", min_size=30, max_size=80)
capitalized = words.map(str.capitalize)
numbers = st.integers(0, 999).map(str)


@st.composite
def sentences(draw: st.DrawFn) -> str:
    first = draw(st.one_of(capitalized, numbers))
    rest = draw(st.lists(st.one_of(words, long_words, numbers, words.map(lambda w: w + ",")), max_size=40))
    return " ".join([first, *rest]).rstrip(",") + draw(st.sampled_from([".", "!", "?", "...", '."']))


@st.composite
def documents(draw: st.DrawFn) -> str:
    parts = draw(st.lists(sentences(), min_size=0, max_size=25))
    gaps = draw(
        st.lists(st.sampled_from([" ", "  ", "\n", "\n\n ", "\t"]), min_size=len(parts), max_size=len(parts))
    )
    return "".join(p + g for p, g in zip(parts, gaps, strict=True))


@settings(max_examples=150, deadline=None)
@given(text=documents(), limit=st.integers(20, 400))
def test_chunks_respect_the_limit_and_lose_nothing(text: str, limit: int) -> None:
    chunks = chunk_text(text, limit)
    # no empty chunks, none with stray whitespace
    assert all(c and c == c.strip() for c in chunks)
    # every chunk fits, unless it is a single word longer than the limit
    for chunk in chunks:
        assert len(chunk) <= limit or (" " not in chunk and len(chunk) > limit)
    # joining the chunks gives back the text: every sentence, in order
    assert " ".join(chunks) == normalize_space(text)


@settings(max_examples=150, deadline=None)
@given(text=documents(), limit=st.integers(20, 400))
def test_sentences_are_only_split_when_longer_than_the_limit(text: str, limit: int) -> None:
    chunks = chunk_text(text, limit)
    # map every sentence to the character span it occupies in the normalised text
    position = 0
    boundaries = set()
    for chunk in chunks:
        position += len(chunk)
        boundaries.add(position)
        position += 1
    position = 0
    for sentence in split_sentences(text):
        inside = {b for b in boundaries if position < b < position + len(sentence)}
        if len(sentence) <= limit:
            assert not inside, f"short sentence cut: {sentence!r}"
        position += len(sentence) + 1


def test_sentence_splitter_keeps_abbreviations_decimals_and_po_boxes() -> None:
    text = "Mr. Lee paid $5.99 for it. We do not ship to P.O. boxes. Call us, e.g. Monday! Done? Yes."
    assert split_sentences(text) == [
        "Mr. Lee paid $5.99 for it.",
        "We do not ship to P.O. boxes.",
        "Call us, e.g. Monday!",
        "Done?",
        "Yes.",
    ]


def test_long_sentence_is_cut_at_clauses_first() -> None:
    sentence = (
        "Returned items must be unused, clean and in their original packaging, with all parts, "
        "manuals and accessories, and the receipt or the order number."
    )
    pieces = chunk_text(sentence, 60)
    assert all(len(p) <= 60 for p in pieces)
    assert pieces[0] == "Returned items must be unused,"
    assert " ".join(pieces) == sentence


def test_word_longer_than_the_limit_stays_whole() -> None:
    word = "x" * 50
    assert chunk_text(f"Short. {word} end.", 20) == ["Short.", word, "end."]


def test_chunks_are_balanced_instead_of_leaving_a_stub() -> None:
    text = " ".join(f"Sentence number {i} is here." for i in range(10))  # 10 x 27 chars
    chunks = chunk_text(text, 200)
    assert len(chunks) == 2
    assert abs(len(chunks[0]) - len(chunks[1])) < 30


def test_empty_and_invalid() -> None:
    assert chunk_text("   \n ") == []
    with pytest.raises(ValueError):
        chunk_text("text", 0)


def test_chunks_keep_source_and_heading_and_are_numbered() -> None:
    sections = [Section("a.md", "A > B", "One. Two."), Section("b.txt", "B", "Three.")]
    chunks = chunk_sections(sections, 5)
    assert [(c.id, c.heading, c.text) for c in chunks] == [
        ("a.md#0", "A > B", "One."),
        ("a.md#1", "A > B", "Two."),
        ("b.txt#2", "B", "Three."),
    ]
    assert chunks[0].context_text == "A: B. One."


def test_shipped_kb_chunk_sizes() -> None:
    chunks = chunk_sections(load_kb(REPO_KB).sections)
    assert 40 <= len(chunks) <= 150
    assert all(0 < len(c.text) <= DEFAULT_CHUNK_CHARS for c in chunks)
    # voice-sized: the typical chunk is a couple of sentences, not a fragment
    assert sorted(len(c.text) for c in chunks)[len(chunks) // 2] >= 120
