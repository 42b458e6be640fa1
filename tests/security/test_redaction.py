"""PII redaction: the labelled corpus figures, spoken forms, and every place it is applied."""

from __future__ import annotations

import io
import json
import logging
import sqlite3
from pathlib import Path

import pytest

from voiceflow.observability.logs import bind_call, configure_logging
from voiceflow.processors.memory import ConversationMemory, PersistentUserMemory
from voiceflow.security.evaluation import evaluate, load_corpus
from voiceflow.security.llm_input import RedactingLLM
from voiceflow.security.redaction import PII_TYPES, Redactor, luhn_valid, routing_valid
from voiceflow.services.llm.engine import ChatMessage, TextDelta
from voiceflow.services.llm.openai import OpenAICompatEngine
from voiceflow.testing.fakes.openai_server import FakeOpenAIServer, TextReply

HERE = Path(__file__).parent
CARD_SPOKEN = "four one one one one one one one one one one one one one one one"


def heldout_rows() -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for line in (HERE / "pii_heldout.txt").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        kind, value, text = line.split("|", 2)
        if kind == "none":
            rows.append({"text": text, "spans": []})
        else:
            start = text.index(value)
            rows.append({"text": text, "spans": [{"type": kind, "start": start, "end": start + len(value)}]})
    return rows


def test_corpus_recall_per_type_and_false_positives() -> None:
    rows = load_corpus(HERE / "pii_corpus.jsonl")
    report = evaluate(Redactor(), rows)
    figures = report.as_json()
    print(json.dumps(figures, indent=1))  # the README's table comes from benchmarks/redaction.py
    assert set(report.labelled) == set(PII_TYPES) and all(report.labelled[k] >= 60 for k in PII_TYPES)
    for kind in PII_TYPES:
        assert report.typed_recall(kind) >= 0.95, (kind, [t for k, t in report.missed if k == kind][:5])
    assert report.negatives >= 200
    assert report.negatives_flagged / report.negatives <= 0.02, report.spurious


def test_held_out_sentences() -> None:
    """Hand-written sentences that were not used while the patterns were tuned."""
    report = evaluate(Redactor(), heldout_rows())
    caught = sum(report.caught.values()) / sum(report.labelled.values())
    assert caught >= 0.9, report.missed
    assert report.negatives_flagged <= 1, report.spurious


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"my card is {CARD_SPOKEN} thanks", "my card is [PAYMENT_CARD] thanks"),
        (
            "card 4111-1111-1111-1111 exp 09/28 cvv 737",
            "card [PAYMENT_CARD] exp [PAYMENT_CARD] cvv [PAYMENT_CARD]",
        ),
        ("social is one two three double four five six seven eight", "social is [SSN]"),
        ("I was born march third nineteen eighty five", "I was born [DATE_OF_BIRTH]"),
        ("it's jane dot doe at example dot com", "it's [EMAIL]"),
        ("call two one two five five five zero one four seven", "call [PHONE]"),
        ("ship to twelve thirty four elm avenue apartment 5", "ship to [STREET_ADDRESS]"),
        ("passport X12345678 and IP 10.1.2.3", "passport [PASSPORT] and IP [IP_ADDRESS]"),
        # not PII: order ids, times, prices, a number that fails Luhn
        ("order one zero zero two at 3:30 for $49.99", "order one zero zero two at 3:30 for $49.99"),
        ("reference 4111 1111 1111 1112", "reference 4111 1111 1111 1112"),
    ],
)
def test_written_and_spoken_forms(text: str, expected: str) -> None:
    assert Redactor().redact(text) == expected


def test_checksums() -> None:
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
    assert routing_valid("021000021") and not routing_valid("021000022")


def test_severities_and_positions() -> None:
    text = "ssn 123-45-6789, email a@b.io"
    found = Redactor().find(text)
    assert [(f.type, f.severity, text[f.start : f.end]) for f in found] == [
        ("ssn", "critical", "123-45-6789"),
        ("email", "medium", "a@b.io"),
    ]


async def test_stored_transcripts_are_redacted(tmp_path: Path) -> None:
    memory = await PersistentUserMemory.open(tmp_path / "mem.db", redact=Redactor().redact)
    try:
        await memory.start_call("+15551230001", "CA1")
        await memory.record_turn("+15551230001", "CA1", "user", f"charge my card {CARD_SPOKEN}")
        await memory.end_call("+15551230001", "CA1", topic="payment")
    finally:
        await memory.close()
    with sqlite3.connect(tmp_path / "mem.db") as conn:
        (stored,) = conn.execute("SELECT text FROM conversation_turns").fetchone()
    assert stored == "charge my card [PAYMENT_CARD]"


async def test_memory_summaries_are_redacted() -> None:
    memory = ConversationMemory("system", max_turns=2, keep_recent=1, redact=Redactor().redact)
    for k in range(3):
        memory.add_user(f"my social security number is 123-45-678{k} and order 100{k}")
        memory.add_assistant(f"Thanks, noted order 100{k}.")
    assert await memory.summarize_if_needed()
    assert "123-45-678" not in memory.summary and "[SSN]" in memory.summary


async def test_cloud_llm_input_is_redacted_when_configured() -> None:
    async with FakeOpenAIServer() as fake:
        fake.script(TextReply(text="Sure."))
        engine = OpenAICompatEngine("fake-model", base_url=fake.base_url, api_key="sk-test", timeout=5.0)
        guarded = RedactingLLM(engine, Redactor().redact)
        try:
            messages = [
                ChatMessage("system", "You are an agent."),
                ChatMessage("user", f"card {CARD_SPOKEN}"),
            ]
            events = [ev async for ev in guarded.stream(messages)]
        finally:
            await guarded.aclose()
    assert any(isinstance(ev, TextDelta) for ev in events)
    sent = fake.bodies[0]["messages"]
    assert sent[0]["content"] == "You are an agent."
    assert sent[1]["content"] == "card [PAYMENT_CARD]"


def test_logs_are_json_with_call_id_and_redacted() -> None:
    out = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        configure_logging("INFO", fmt="json", redact=Redactor().redact, stream=out)
        token = bind_call("CA42")
        log = logging.getLogger("voiceflow.test")
        log.info("caller said %s", f"my card is {CARD_SPOKEN}")
        try:
            raise ValueError("bad ssn 123-45-6789")
        except ValueError:
            log.exception("lookup failed")
        bind_call(None)
        log.warning("no call here")
        del token
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["call_id"] for line in lines] == ["CA42", "CA42", "-"]
    assert lines[0]["message"] == "caller said my card is [PAYMENT_CARD]"
    assert "123-45-6789" not in out.getvalue() and "[SSN]" in lines[1]["exc"]
    assert {"ts", "level", "logger"} <= set(lines[0])
