"""Knowledge-grounded turns: the agent sends a per-turn system prompt as ``system_override``.

Real parts throughout: the shipped kb through the real RAG index (MiniLM, cached index),
the OpenAI adapter through the SDK, the fake server over a socket.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.llm.llm_helpers import Outputs
from voiceflow.frames import Error, Intent, LLMResponseEnd, UserStartedSpeaking
from voiceflow.graphs import Collector, Graph, GraphRun, VirtualClock
from voiceflow.processors.llm.agent import LLMAgent
from voiceflow.processors.llm.grounding import (
    GROUNDED_INSTRUCTIONS,
    UNGROUNDED_INSTRUCTIONS,
    KnowledgeGrounding,
    Passage,
)
from voiceflow.processors.memory import ConversationMemory
from voiceflow.processors.memory.turn import Turn
from voiceflow.processors.rag import KnowledgeBase, shared_embedder
from voiceflow.processors.tools import ToolRegistry
from voiceflow.services.llm.engine import ChatMessage
from voiceflow.services.llm.openai import OpenAICompatEngine, build_messages
from voiceflow.testing.fakes.openai_server import FakeOpenAIServer, FakeToolCall, TextReply, ToolCallsReply

REPO = Path(__file__).resolve().parents[2]
STANDING = "You are the phone agent of Acme Home. Answer in one or two short sentences."
RETURNS_Q = "how many days do I have to return something?"


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    embedder = shared_embedder()
    embedder.load()
    base = KnowledgeBase(
        REPO / "kb", index_dir=REPO / ".voiceflow" / "cache" / "rag" / "shipped-index", embedder=embedder
    )
    base.load_or_build()
    return base


def _graph(agent: LLMAgent) -> tuple[Graph, Collector]:
    sink = Collector(name="sink")
    return Graph("grounded", inputs=[Intent, UserStartedSpeaking]).chain(agent, sink), sink


def _intent(run: GraphRun, intent: str, text: str) -> Intent:
    return run.make(Intent, intent=intent, confidence=0.9, text=text)


def _system(body: dict[str, Any]) -> str:
    first = body["messages"][0]
    assert first["role"] == "system"
    return str(first["content"])


async def test_a_knowledge_question_is_answered_under_a_grounded_system_prompt(
    fake: FakeOpenAIServer, engine: OpenAICompatEngine, outputs: Outputs, kb: KnowledgeBase
) -> None:
    fake.script(TextReply(text="You have 30 days."), TextReply(text="Let me check that order."))
    memory = ConversationMemory(STANDING)
    agent = LLMAgent(engine, memory=memory, respond_to="intent", turn_prompt=KnowledgeGrounding(kb))
    graph, _ = _graph(agent)
    clock = VirtualClock()
    async with GraphRun(graph, clock=clock, on_output=outputs) as run:
        assert engine.clock == clock.now  # setup started the engine on the run clock
        await run.push(_intent(run, "knowledge_question", RETURNS_Q))
        await outputs.wait_for(LLMResponseEnd)
        await run.push(_intent(run, "check_order", "where is order 1001"))
        await outputs.wait_for(LLMResponseEnd, count=2)
    assert not run.errors
    grounded, plain = fake.bodies
    prompt = _system(grounded)
    assert prompt.startswith(STANDING + "\n\n" + GROUNDED_INSTRUCTIONS)
    assert "within 30 days of delivery" in prompt  # the passage from kb/returns.md
    # the override replaced the standing prompt: it is not sent twice
    assert [m["content"] for m in grounded["messages"]].count(STANDING) == 0
    assert _system(plain) == STANDING  # a turn that is not a knowledge question keeps the prompt
    # the history holds the standing prompt only: the grounding belonged to that turn
    assert memory.system_prompt == STANDING and memory.messages()[0].content == STANDING
    assert memory.turns[0].assistant_text == "You have 30 days."


async def test_every_tool_round_of_a_grounded_turn_carries_the_override(
    fake: FakeOpenAIServer, engine: OpenAICompatEngine, outputs: Outputs, kb: KnowledgeBase
) -> None:
    async def get_business_hours(department: str = "main") -> dict[str, Any]:
        """Opening hours.

        Args:
            department: Which department.
        """
        return {"department": department, "hours": "9am-5pm"}

    fake.script(
        ToolCallsReply(calls=[FakeToolCall("get_business_hours", {"department": "returns"})]),
        TextReply(text="Thirty days, and returns are open nine to five."),
    )
    agent = LLMAgent(
        engine,
        system_prompt=STANDING,
        registry=ToolRegistry([get_business_hours]),
        respond_to="intent",
        turn_prompt=KnowledgeGrounding(kb),
    )
    graph, _ = _graph(agent)
    async with GraphRun(graph, clock=VirtualClock(), on_output=outputs) as run:
        await run.push(_intent(run, "knowledge_question", RETURNS_Q))
        await outputs.wait_for(LLMResponseEnd)
    first, second = fake.bodies
    assert _system(first) == _system(second) and GROUNDED_INSTRUCTIONS in _system(first)
    assert second["messages"][-1]["role"] == "tool"


async def test_nothing_relevant_in_the_kb_tells_the_model_not_to_guess(
    fake: FakeOpenAIServer, engine: OpenAICompatEngine, outputs: Outputs, kb: KnowledgeBase
) -> None:
    fake.script(TextReply(text="I'm not sure, shall I connect you?"))
    agent = LLMAgent(engine, system_prompt=STANDING, respond_to="intent", turn_prompt=KnowledgeGrounding(kb))
    graph, _ = _graph(agent)
    async with GraphRun(graph, clock=VirtualClock(), on_output=outputs) as run:
        await run.push(
            _intent(run, "knowledge_question", "what is the airspeed velocity of an unladen swallow")
        )
        await outputs.wait_for(LLMResponseEnd)
    assert _system(fake.bodies[0]) == STANDING + "\n\n" + UNGROUNDED_INSTRUCTIONS


class BrokenIndex:
    """A knowledge source whose index is offline."""

    async def search(self, query: str, k: int = 3) -> Sequence[Passage]:
        raise OSError("index offline")


async def test_a_failing_lookup_costs_the_grounding_not_the_answer(
    fake: FakeOpenAIServer, engine: OpenAICompatEngine, outputs: Outputs
) -> None:
    fake.script(TextReply(text="Most items within thirty days."))
    agent = LLMAgent(
        engine, system_prompt=STANDING, respond_to="intent", turn_prompt=KnowledgeGrounding(BrokenIndex())
    )
    graph, _ = _graph(agent)
    async with GraphRun(graph, clock=VirtualClock(), on_output=outputs) as run:
        await run.push(_intent(run, "knowledge_question", RETURNS_Q))
        await outputs.wait_for(LLMResponseEnd)
    assert _system(fake.bodies[0]) == STANDING
    assert [e.message for e in run.errors if isinstance(e, Error)] == ["turn prompt failed: index offline"]


async def test_grounding_applies_only_to_its_intents_unless_told_otherwise(kb: KnowledgeBase) -> None:
    turn = Turn(index=0, user_text=RETURNS_Q, intent=None)
    assert await KnowledgeGrounding(kb)(turn, STANDING) is None
    every_turn = await KnowledgeGrounding(kb, intents=None)(turn, "")
    assert every_turn is not None and every_turn.startswith(GROUNDED_INSTRUCTIONS)
    assert await KnowledgeGrounding(kb, intents=None)(Turn(index=1, user_text="  "), STANDING) is None


def test_the_override_replaces_the_prompt_slot_never_the_summary() -> None:
    """Without a standing prompt, the memory still gives the override a slot to replace."""
    memory = ConversationMemory("")
    memory.summary = "The caller asked about order 1001."
    memory.add_user("and my refund?")
    assert memory.messages()[0].content.startswith("Summary")  # type: ignore[union-attr]
    wire = build_messages(memory.messages(prompt_slot=True), "grounded prompt")
    assert wire[0] == {"role": "system", "content": "grounded prompt"}
    assert wire[1]["role"] == "system" and "order 1001" in wire[1]["content"]
    assert wire[2] == {"role": "user", "content": "and my refund?"}
    assert build_messages([ChatMessage(role="user", content="hi")], "p")[0] == {
        "role": "system",
        "content": "p",
    }
