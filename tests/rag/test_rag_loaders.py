"""Loaders per format, malformed files, and the shipped kb loading cleanly."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.rag.rag_helpers import write_kb
from voiceflow.processors.rag.documents import (
    MalformedDocument,
    kb_files,
    load_csv,
    load_html,
    load_json,
    load_kb,
    load_markdown,
    load_text,
)

REPO_KB = Path(__file__).resolve().parents[2] / "kb"


def test_markdown_sections_carry_heading_path_and_clean_inline_markup() -> None:
    text = """# Returns

Intro line one
continues here.

## Refunds

- Cards take **5 days**
- See [our site](https://example.com) for more

```
code is skipped.
```

### Store credit
Credit is *instant*.
"""
    sections = load_markdown(text, "returns.md")
    assert [s.heading for s in sections] == [
        "Returns",
        "Returns > Refunds",
        "Returns > Refunds > Store credit",
    ]
    assert sections[0].text == "Intro line one continues here."
    assert sections[1].text == "Cards take 5 days. See our site for more."
    assert "code" not in " ".join(s.text for s in sections)
    assert sections[2].text == "Credit is instant."
    assert all(s.source == "returns.md" for s in sections)


def test_markdown_without_headings_uses_the_file_name() -> None:
    sections = load_markdown("Just a paragraph.", "store_policy.md")
    assert [(s.heading, s.text) for s in sections] == [("Store policy", "Just a paragraph.")]


def test_text_short_standalone_lines_become_headings() -> None:
    text = "Hours\n\nWe answer calls daily.\n\nBilling:\nBilling is open weekdays.\nIt closes at 5 PM.\n"
    sections = load_text(text, "hours.txt")
    assert [(s.heading, s.text) for s in sections] == [
        ("Hours", "We answer calls daily."),
        ("Hours > Billing", "Billing is open weekdays. It closes at 5 PM."),
    ]


def test_text_wrapped_paragraph_is_not_a_heading() -> None:
    text = "Returns\n\nYou can return items within\nthirty days of delivery.\n"
    assert [(s.heading, s.text) for s in load_text(text, "returns.txt")] == [
        ("Returns", "You can return items within thirty days of delivery.")
    ]


def test_html_drops_scripts_styles_and_page_furniture() -> None:
    html = """<html><head><title>Warranty page</title><style>p{color:red}</style>
    <script>var secret = "do not index";</script></head><body>
    <nav><a href="/">Home</a></nav>
    <p>Before any heading &amp; more</p>
    <h2>Coverage</h2><p>One year of <b>coverage</b>.</p><ul><li>Frames</li><li>Springs</li></ul>
    <script>track("x")</script><h2>Claims</h2><p>Call us</p><footer>Copyright</footer></body></html>"""
    sections = load_html(html, "warranty.html")
    assert [(s.heading, s.text) for s in sections] == [
        ("Warranty page", "Before any heading & more."),
        ("Coverage", "One year of coverage. Frames. Springs."),
        ("Claims", "Call us."),
    ]
    joined = " ".join(s.text for s in sections)
    for hidden in ("secret", "track", "color", "Home", "Copyright"):
        assert hidden not in joined


def test_json_faq_list_makes_one_section_per_question() -> None:
    text = '[{"question": "Do gift cards expire?", "answer": "Never."}, {"Q": "Tax?", "A": "Yes, by state."}]'
    sections = load_json(text, "faq.json")
    assert [(s.heading, s.text) for s in sections] == [
        ("Do gift cards expire?", "Never."),
        ("Tax?", "Yes, by state."),
    ]


def test_json_wrapped_faq_is_unwrapped() -> None:
    sections = load_json('{"faq": [{"question": "Open?", "answer": "Daily."}]}', "faq.json")
    assert [(s.heading, s.text) for s in sections] == [("Open?", "Daily.")]


def test_json_nested_objects_flatten_to_sentences() -> None:
    text = """{"contact": {"phone": "555-0100", "support_hours": {"weekdays": "8 to 8"}},
              "stores": [{"city": "Boston", "address": "45 Summer Street"}],
              "languages": ["English", "Spanish"], "open_sundays": false}"""
    sections = {s.heading: s.text for s in load_json(text, "company.json")}
    assert sections == {
        "Company > Contact": "Phone: 555-0100. Support hours weekdays: 8 to 8.",
        "Company > Stores": "City: Boston, address: 45 Summer Street.",
        "Company > Languages": "Languages: English, Spanish.",
        "Company > Open sundays": "Open sundays: no.",
    }


def test_csv_rows_become_sentences_from_the_header() -> None:
    text = "Zone,Area,Standard cost\nZone 1,New England,$5.99\n2,the West,$12.99\n\n"
    (section,) = load_csv(text, "shipping_rates.csv")
    assert section.heading == "Shipping rates"
    assert section.text == (
        "Zone 1: area is New England, standard cost is $5.99. "
        "Zone 2: area is the West, standard cost is $12.99."
    )


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("broken.json", '{"question": "unterminated', "invalid JSON at line 1"),
        ("scalar.json", "42", "expected an object or a list"),
        ("ragged.csv", "Zone,Cost\nZone 1,$5,extra\n", "row 2 has 3 fields"),
        ("headless.csv", "only-one-column\nvalue\n", "header naming at least two columns"),
        ("latin1.txt", "Caf\xe9 hours are 8 to 8.".encode("latin-1"), "not UTF-8"),
    ],
)
def test_malformed_file_is_a_warning_naming_it_and_the_rest_still_loads(
    tmp_path: Path, name: str, content: str | bytes, reason: str
) -> None:
    kb = write_kb(tmp_path / "kb", {"good.md": "# Good\n\nThis file is fine.", name: content})
    result = load_kb(kb)
    assert result.files == ["good.md"]
    assert [s.text for s in result.sections] == ["This file is fine."]
    (warning,) = result.warnings
    assert name in warning and reason in warning


def test_malformed_loader_raises_a_typed_error() -> None:
    with pytest.raises(MalformedDocument):
        load_json("[1, 2", "x.json")


def test_kb_files_skips_eval_folder_hidden_files_and_unknown_formats(tmp_path: Path) -> None:
    kb = write_kb(
        tmp_path / "kb",
        {
            "a.md": "A.",
            "sub/b.txt": "B.",
            "eval/questions.json": "[]",
            ".hidden.md": "H.",
            "image.png": b"\x89PNG",
        },
    )
    assert [p.relative_to(kb).as_posix() for p in kb_files(kb)] == ["a.md", "sub/b.txt"]


def test_missing_kb_folder_is_a_warning(tmp_path: Path) -> None:
    result = load_kb(tmp_path / "nowhere")
    assert result.sections == [] and "does not exist" in result.warnings[0]


def test_shipped_kb_loads_every_format_without_warnings() -> None:
    result = load_kb(REPO_KB)
    assert result.warnings == []
    suffixes = {Path(f).suffix for f in result.files}
    assert suffixes == {".md", ".txt", ".html", ".json", ".csv"}
    topics = " ".join(s.heading.lower() for s in result.sections)
    for topic in ("shipping", "returns", "warranty", "hours", "appointments", "privacy"):
        assert topic in topics
