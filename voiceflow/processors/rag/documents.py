"""Loaders: turn each kb/ file into headed sections of plain, speakable text.

One loader per format (Markdown, text, HTML, JSON, CSV). A file that cannot be
read or parsed yields a warning naming it, and the rest of the knowledge base is
still loaded: one bad file must not take the answers of every other file down.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

log = logging.getLogger("voiceflow.rag")

#: Folders under the kb root that hold tooling, not knowledge (evaluation sets).
EXCLUDED_DIRS = frozenset({"eval", ".git", "__pycache__"})


class MalformedDocument(ValueError):
    """A kb file whose content does not fit its format."""


@dataclass(frozen=True, slots=True)
class Section:
    """A run of text under one heading of one source file."""

    source: str
    heading: str
    text: str


@dataclass(slots=True)
class LoadResult:
    sections: list[Section] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _sentence(text: str) -> str:
    """Close a list item or table cell so it reads (and splits) as a sentence."""
    text = " ".join(text.split())
    if text and text[-1] not in ".!?:;":
        text += "."
    return text


def _title_from(path: Path) -> str:
    return path.stem.replace("_", " ").replace("-", " ").strip().capitalize()


# -- Markdown ------------------------------------------------------------------------------
_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MD_EMPHASIS = re.compile(r"(\*\*|__|\*|_|`)(?=\S)(.+?)(?<=\S)\1")
_MD_BULLET = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")


def _md_inline(text: str) -> str:
    text = _MD_LINK.sub(r"\1", text)
    return _MD_EMPHASIS.sub(r"\2", text)


def load_markdown(text: str, source: str) -> list[Section]:
    """Sections per heading; the heading path (``Returns > Refunds``) is each section's context."""
    sections: list[Section] = []
    trail: list[tuple[int, str]] = []
    paragraphs: list[str] = []
    current: list[str] = []

    def close_paragraph() -> None:
        if current:
            paragraphs.append(" ".join(current))
            current.clear()

    def close_section() -> None:
        close_paragraph()
        body = " ".join(p for p in paragraphs if p)
        if body.strip():
            heading = " > ".join(h for _, h in trail) or _title_from(Path(source))
            sections.append(Section(source, heading, body))
        paragraphs.clear()

    in_code = False
    for raw in text.splitlines():
        line = raw.rstrip()
        if line.lstrip().startswith("```"):
            in_code = not in_code
            continue
        if in_code:
            continue
        heading = _MD_HEADING.match(line)
        if heading:
            close_section()
            level = len(heading.group(1))
            trail[:] = [(lvl, h) for lvl, h in trail if lvl < level]
            trail.append((level, _md_inline(heading.group(2))))
        elif not line.strip() or set(line.strip()) <= set("-=*_|: "):
            close_paragraph()  # blank lines, rules and table separators end a paragraph
        elif _MD_BULLET.match(line):
            close_paragraph()
            current.append(_sentence(_md_inline(_MD_BULLET.sub("", line))))
            close_paragraph()
        else:
            current.append(_md_inline(line.strip().lstrip(">").strip()))
    close_section()
    return sections


# -- plain text ----------------------------------------------------------------------------
def load_text(text: str, source: str) -> list[Section]:
    """Paragraphs; a short standalone line without final punctuation is a heading."""
    title = _title_from(Path(source))
    sections: list[Section] = []
    heading = title
    body: list[str] = []
    for block in re.split(r"\n\s*\n", text):
        lines = [ln.strip() for ln in block.strip().splitlines() if ln.strip()]
        if not lines:
            continue
        first = lines[0]
        # a wrapped paragraph's first line continues in lower case; a heading's next line starts anew
        if len(first) <= 60 and first[-1] not in ".!?;," and (len(lines) == 1 or lines[1][:1].isupper()):
            if body:
                sections.append(Section(source, heading, " ".join(body)))
                body = []
            name = first.rstrip(":").strip()
            heading = title if name.lower() == title.lower() else f"{title} > {name}"
            lines = lines[1:]
        body.extend(_sentence(ln) if _MD_BULLET.match(ln) else ln for ln in lines)
    if body:
        sections.append(Section(source, heading, " ".join(body)))
    return sections


# -- HTML -----------------------------------------------------------------------------------
_BLOCK_TAGS = frozenset(
    "p div section article main header footer aside li ul ol dl dt dd tr table br "
    "blockquote pre form nav figure figcaption td th".split()
)
# scripts, styles and page furniture (navigation, footer) are not knowledge
_SKIP_TAGS = frozenset({"script", "style", "noscript", "template", "svg", "head", "nav", "footer"})
_HEADING_TAGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})


class _TextExtractor(HTMLParser):
    """Collects visible text by heading; scripts, styles and the head are dropped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: list[tuple[list[tuple[int, str]], list[str]]] = []
        self.trail: list[tuple[int, str]] = []
        self.blocks: list[str] = []
        self.buffer: list[str] = []
        self.skip_depth = 0
        self.heading_level: int | None = None
        self.heading_text: list[str] = []
        self.title: list[str] = []
        self.in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self.in_title = True
        if tag in _SKIP_TAGS:
            self.skip_depth += 1
        elif tag in _HEADING_TAGS and not self.skip_depth:
            self._flush_section()
            self.heading_level = int(tag[1])
            self.heading_text = []
        elif tag in _BLOCK_TAGS:
            self._flush_block()

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False
        if tag in _SKIP_TAGS:
            self.skip_depth = max(0, self.skip_depth - 1)
        elif tag in _HEADING_TAGS and self.heading_level is not None:
            level = self.heading_level
            self.trail = [(lvl, h) for lvl, h in self.trail if lvl < level]
            self.trail.append((level, " ".join("".join(self.heading_text).split())))
            self.heading_level = None
        elif tag in _BLOCK_TAGS:
            self._flush_block()

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title.append(data)
        if self.skip_depth:
            return
        if self.heading_level is not None:
            self.heading_text.append(data)
        else:
            self.buffer.append(data)

    def _flush_block(self) -> None:
        """Each block (paragraph, list item, cell) is its own thought: close it as a sentence."""
        text = " ".join("".join(self.buffer).split())
        self.buffer = []
        if text:
            self.blocks.append(_sentence(text))

    def _flush_section(self) -> None:
        self._flush_block()
        if self.blocks:
            self.sections.append((list(self.trail), self.blocks))
        self.blocks = []


def load_html(text: str, source: str) -> list[Section]:
    parser = _TextExtractor()
    parser.feed(text)
    parser.close()
    parser._flush_section()
    title = " ".join("".join(parser.title).split()) or _title_from(Path(source))
    return [
        Section(source, " > ".join(h for _, h in trail if h) or title, " ".join(blocks))
        for trail, blocks in parser.sections
    ]


# -- JSON -------------------------------------------------------------------------------------
def _humanize(key: str) -> str:
    return re.sub(r"[_\-]+", " ", key).strip().capitalize()


def _flatten(value: Any, label: str) -> Iterable[str]:
    """Nested objects become sentences naming their key path: ``Phone support: 8 to 8.``"""
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _flatten(inner, f"{label} {_humanize(str(key)).lower()}".strip())
    elif isinstance(value, list):
        if value and all(isinstance(v, dict) and _is_flat(v) for v in value):
            for inner in value:  # a list of records: one sentence per record
                facts = [f"{_humanize(str(k)).lower()}: {v}" for k, v in inner.items() if _present(v)]
                if facts:
                    yield _sentence(_upper_first(", ".join([label, *facts] if label else facts)))
        elif all(not isinstance(v, dict | list) for v in value):
            items = ", ".join(str(v) for v in value if v is not None and str(v).strip())
            if items:
                yield _sentence(f"{label.capitalize()}: {items}" if label else items)
        else:
            for inner in value:
                yield from _flatten(inner, label)
    elif _present(value):
        text = str(value).strip()
        if isinstance(value, bool):
            text = "yes" if value else "no"
        yield _sentence(f"{label.capitalize()}: {text}" if label else text)


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def _is_flat(record: dict[str, Any]) -> bool:
    return all(not isinstance(v, dict | list) for v in record.values())


def _present(value: Any) -> bool:
    return value is not None and bool(str(value).strip())


def _faq_pair(item: Any) -> tuple[str, str] | None:
    if not isinstance(item, dict):
        return None
    lowered = {str(k).lower(): v for k, v in item.items()}
    question = lowered.get("question", lowered.get("q"))
    answer = lowered.get("answer", lowered.get("a"))
    if isinstance(question, str) and isinstance(answer, str):
        return question.strip(), answer.strip()
    return None


def load_json(text: str, source: str) -> list[Section]:
    """An FAQ list of ``{question, answer}`` (heading = question), or any object flattened."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MalformedDocument(f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    title = _title_from(Path(source))
    if isinstance(data, dict) and len(data) == 1 and isinstance(next(iter(data.values())), list):
        data = next(iter(data.values()))  # {"faq": [...]}
    if isinstance(data, list) and data and all(_faq_pair(item) for item in data):
        pairs = [p for p in map(_faq_pair, data) if p is not None]
        return [Section(source, question, answer) for question, answer in pairs if answer]
    if isinstance(data, dict):
        sections = []
        for key, value in data.items():
            nested = isinstance(value, dict) or (
                isinstance(value, list) and any(isinstance(v, dict | list) for v in value)
            )
            label = "" if nested else _humanize(str(key))
            body = " ".join(_flatten(value, label))
            if body:
                sections.append(Section(source, f"{title} > {_humanize(str(key))}", body))
        return sections
    if isinstance(data, list):
        body = " ".join(_flatten(data, ""))
        return [Section(source, title, body)] if body else []
    raise MalformedDocument(f"expected an object or a list at the top level, got {type(data).__name__}")


# -- CSV ---------------------------------------------------------------------------------------
def load_csv(text: str, source: str) -> list[Section]:
    """Each row becomes a sentence built from the header: ``Zone 2: standard cost is $6.99, ...``."""
    rows = list(csv.reader(io.StringIO(text)))
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        return []
    header = [h.strip() for h in rows[0]]
    if len(header) < 2 or not all(header):
        raise MalformedDocument("the first row must be a header naming at least two columns")
    sentences = []
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise MalformedDocument(f"row {number} has {len(row)} fields, the header has {len(header)}")
        first = row[0].strip()
        key = first if first.lower().startswith(header[0].lower()) else f"{header[0]} {first}"
        facts = [f"{h.lower()} is {v.strip()}" for h, v in zip(header[1:], row[1:], strict=True) if v.strip()]
        sentences.append(_sentence(f"{key.strip()}: {', '.join(facts)}"))
    return [Section(source, _title_from(Path(source)), " ".join(sentences))] if sentences else []


LOADERS: dict[str, Callable[[str, str], list[Section]]] = {
    ".md": load_markdown,
    ".markdown": load_markdown,
    ".txt": load_text,
    ".html": load_html,
    ".htm": load_html,
    ".json": load_json,
    ".csv": load_csv,
}


def kb_files(kb_dir: Path) -> list[Path]:
    """The indexable files under ``kb_dir``, in a stable order (evaluation folders excluded)."""
    found = []
    for path in sorted(kb_dir.rglob("*")):
        rel = path.relative_to(kb_dir)
        if any(part in EXCLUDED_DIRS or part.startswith(".") for part in rel.parts):
            continue
        if path.is_file() and path.suffix.lower() in LOADERS:
            found.append(path)
    return found


def load_file(path: Path, source: str) -> list[Section]:
    """Load one file; raises ``MalformedDocument`` or ``OSError`` with the reason."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MalformedDocument(f"not UTF-8 text (byte {exc.start})") from None
    return LOADERS[path.suffix.lower()](text, source)


def load_kb(kb_dir: Path) -> LoadResult:
    """Every section of every kb file; bad files become warnings, never a failed load."""
    result = LoadResult()
    if not kb_dir.is_dir():
        result.warnings.append(f"knowledge base folder {kb_dir} does not exist")
        return result
    for path in kb_files(kb_dir):
        source = path.relative_to(kb_dir).as_posix()
        try:
            sections = load_file(path, source)
        except (MalformedDocument, OSError, csv.Error, ValueError) as exc:
            message = f"skipped {source}: {exc}"
            log.warning("knowledge base: %s", message)
            result.warnings.append(message)
            continue
        if not sections:
            result.warnings.append(f"{source} holds no text")
        result.files.append(source)
        result.sections.extend(sections)
    return result
