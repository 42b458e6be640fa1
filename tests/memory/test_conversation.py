"""ConversationMemory: turns, context, truncation and summarization (extractive and through the fake LLM)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from voiceflow.processors.memory import ConversationMemory, ExtractiveSummarizer, LLMSummarizer
from voiceflow.processors.memory.conversation import SUMMARY_PREFIX
from voiceflow.services.llm.engine import ToolCallRequest
from voiceflow.services.llm.openai import OpenAICompatEngine
from voiceflow.testing.fakes.openai_server import ErrorReply, FakeOpenAIServer, TextReply

EXCHANGES = [
    ("Hi there.", "greeting", {}, "Hello! How can I help?"),
    (
        "Where is my order 1001? It was due Monday.",
        "check_order",
        {"order_id": "1001"},
        "Order 1001 shipped and arrives Thursday.",
    ),
    ("Okay.", "affirm", {}, "Anything else?"),
    (
        "I'd like an appointment on the 5th at 3 pm to return the headphones.",
        "schedule_appointment",
        {"date": "2025-06-05", "time": "15:00", "purpose": "return"},
        "You're booked for June 5th at 3 pm, confirmation AB12CD.",
    ),
    ("Thanks.", "small_talk", {}, "You're welcome."),
]


def fill(memory: ConversationMemory, exchanges: list[tuple[str, str, dict[str, str], str]]) -> None:
    for user, intent, entities, reply in exchanges:
        memory.add_user(user, intent=intent, entities=entities)
        memory.add_assistant(reply)


async def test_no_summary_at_or_below_max_turns() -> None:
    memory = ConversationMemory("sys", max_turns=5)
    fill(memory, EXCHANGES)
    assert not memory.needs_summary
    assert not await memory.summarize_if_needed()
    assert memory.summary == "" and len(memory.turns) == 5


async def test_extractive_summary_replaces_old_turns() -> None:
    memory = ConversationMemory("sys", max_turns=3, keep_recent=1)
    fill(memory, EXCHANGES[:4])
    assert memory.needs_summary
    assert await memory.summarize_if_needed()
    assert memory.summarized_turns == 3 and memory.turn_count == 4
    assert [t.user_text for t in memory.turns] == [EXCHANGES[3][0]]
    summary = memory.summary
    assert "Caller goals: check_order." in summary  # greeting/affirm are not goals
    assert "order_id=1001" in summary
    assert "Caller: Where is my order 1001?" in summary
    assert "Okay" not in summary  # contentless turns are dropped
    messages = memory.messages()
    assert [m.role for m in messages] == ["system", "system", "user", "assistant"]
    assert messages[1].content == f"{SUMMARY_PREFIX}\n{summary}"
    # a second fold merges into the first summary
    fill(memory, [EXCHANGES[4], EXCHANGES[2], EXCHANGES[0]])
    assert await memory.summarize_if_needed()
    assert "Caller goals: check_order, schedule_appointment." in memory.summary
    assert "order_id=1001" in memory.summary and "time=15:00" in memory.summary
    assert "AB12CD" in memory.summary
    assert memory.turn_count == 7 and len(memory.turns) == 1


def test_extractive_summarizer_prefers_numbers_and_entities() -> None:
    memory = ConversationMemory(max_turns=10)
    fill(memory, EXCHANGES)
    summary = ExtractiveSummarizer(max_points=2).summarize_now("", memory.turns)
    points = [line for line in summary.splitlines() if line.startswith("- ")]
    assert len(points) == 2
    assert all(any(ch.isdigit() for ch in p) for p in points)


def test_truncate_last_assistant() -> None:
    memory = ConversationMemory()
    memory.add_user("tell me about returns")
    memory.add_assistant("You can return any item within 30 days. Just bring the receipt.")
    assert memory.truncate_last_assistant(40) == "You can return any item within 30 days."
    assert memory.current is not None and memory.current.interrupted
    assert memory.truncate_last_assistant("You can return") == "You can return"
    assert memory.current.assistant_text == "You can return"
    assert memory.truncate_last_assistant(0) == ""
    assert [m.role for m in memory.current.messages] == ["user"]


def test_truncating_a_reply_with_tool_calls_keeps_the_calls() -> None:
    memory = ConversationMemory()
    memory.add_user("order 1001?")
    memory.add_tool_calls([ToolCallRequest(id="c1", name="check_order_status", arguments={})], "Let me look.")
    memory.add_tool_result("c1", "check_order_status", "{}")
    assert memory.truncate_last_assistant("") == ""
    assistant = memory.current.messages[1]  # type: ignore[union-attr]
    assert assistant.content is None and assistant.tool_calls[0].id == "c1"


def test_tool_results_are_idempotent_and_cancellation_answers_open_calls() -> None:
    memory = ConversationMemory()
    memory.add_user("do two things")
    calls = [ToolCallRequest(id=i, name="f", arguments={}) for i in ("a", "b")]
    memory.add_tool_calls(calls)
    memory.add_tool_result("a", "f", '{"ok": 1}')
    memory.add_tool_result("a", "f", '{"ok": 2}')  # duplicate: ignored
    memory.add_tool_result("zzz", "f", "{}")  # unknown id: ignored
    assert [c.id for c in memory.unanswered_tool_calls()] == ["b"]
    assert memory.cancel_unanswered_tool_calls() == ["b"]
    assert memory.cancel_unanswered_tool_calls() == []
    tool_messages = [m for m in memory.current.messages if m.role == "tool"]  # type: ignore[union-attr]
    assert (tool_messages[0].tool_call_id, tool_messages[0].content) == ("a", '{"ok": 1}')
    assert json.loads(tool_messages[1].content or "")["status"] == "cancelled"


def test_intent_attaches_to_its_turn_in_either_order() -> None:
    memory = ConversationMemory()
    memory.add_user("where is order 1001")
    memory.note_intent("check_order", {"order_id": "1001"}, "where is order 1001")
    memory.note_intent("business_hours", {}, "when are you open")  # arrives before its transcript
    memory.add_user("When are you open")
    assert [(t.intent, t.entities) for t in memory.turns] == [
        ("check_order", {"order_id": "1001"}),
        ("business_hours", {}),
    ]
    hint = memory.messages()[-1]
    assert hint.role == "system" and "business_hours" in (hint.content or "")


def test_max_turns_validated() -> None:
    with pytest.raises(ValueError, match="max_turns"):
        ConversationMemory(max_turns=0)


@pytest.fixture
async def fake_engine() -> AsyncIterator[tuple[FakeOpenAIServer, OpenAICompatEngine]]:
    async with FakeOpenAIServer() as fake:
        engine = OpenAICompatEngine("fake-model", base_url=fake.base_url)
        yield fake, engine
        await engine.aclose()


async def test_llm_summarizer_through_the_fake(
    fake_engine: tuple[FakeOpenAIServer, OpenAICompatEngine],
) -> None:
    fake, engine = fake_engine
    fake.script(TextReply(text="The caller asked about order 1001, which shipped."))
    memory = ConversationMemory("sys", max_turns=2, keep_recent=1, engine=engine)
    assert isinstance(memory.summarizer, LLMSummarizer)
    fill(memory, EXCHANGES[:3])
    assert await memory.summarize_if_needed()
    assert memory.summary == "The caller asked about order 1001, which shipped."
    body = fake.bodies[0]
    assert "tools" not in body
    assert "memory of a phone agent" in body["messages"][0]["content"]
    assert "Caller: Where is my order 1001?" in body["messages"][1]["content"]


async def test_llm_summarizer_falls_back_to_extractive(
    fake_engine: tuple[FakeOpenAIServer, OpenAICompatEngine],
) -> None:
    fake, engine = fake_engine
    fake.script(ErrorReply(status=429, message="slow down"))
    summarizer = LLMSummarizer(engine)
    memory = ConversationMemory(max_turns=2, keep_recent=1, summarizer=summarizer)
    fill(memory, EXCHANGES[:3])
    assert await memory.summarize_if_needed()
    assert summarizer.failures == 1
    assert "order_id=1001" in memory.summary
