"""Every LLM down: the offline dialogue policy serves the turn (tools on the real SQLite file), and
the rest of the call while every breaker is open; the first breaker to half-open brings the LLM
back. The real OpenAI SDK against two fake providers, on the virtual clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.llm.llm_helpers import Outputs
from voiceflow.db import Database, open_seeded
from voiceflow.frames import Intent, LLMResponseEnd, OfflineTurn, TextToSpeak, ToolResult
from voiceflow.graphs import Collector, Graph, GraphRun, VirtualClock
from voiceflow.processors.dialogue import OfflineStandIn
from voiceflow.processors.llm.agent import DEFAULT_FALLBACK, LLMAgent
from voiceflow.processors.memory import ConversationMemory
from voiceflow.processors.tools import ToolCallTracker, build_registry
from voiceflow.services.failover.llm import FailoverLLM
from voiceflow.services.llm.openai import OpenAICompatEngine
from voiceflow.testing.fakes.openai_server import ErrorReply, FakeOpenAIServer, TextReply

ORDER = {"order_id": "1002"}


def intent(run: GraphRun, name: str, text: str, **entities: str) -> Intent:
    return run.make(Intent, intent=name, confidence=0.9, text=text, entities=entities)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await open_seeded(tmp_path / "voiceflow.db")
    yield database
    await database.close()


async def test_every_llm_down_the_offline_policy_serves_the_call_until_one_is_back(db: Database) -> None:
    clock = VirtualClock()
    async with FakeOpenAIServer() as first, FakeOpenAIServer() as second:
        llm = FailoverLLM(
            [
                OpenAICompatEngine("m", base_url=first.base_url, timeout=2.0),
                OpenAICompatEngine("m", base_url=second.base_url, timeout=2.0),
            ],
            cooldown=30.0,
        )
        registry = build_registry(db)
        tracker = ToolCallTracker(registry)
        memory = ConversationMemory("You are the phone agent.")
        agent = LLMAgent(
            llm,
            memory=memory,
            registry=registry,
            tracker=tracker,
            respond_to="intent",
            llm_available=llm.available,
            name="dialogue",
        )
        offline = OfflineStandIn(tracker, memory=memory, name="offline")
        sink = Collector(name="sink")
        outputs = Outputs()
        graph = Graph("call", inputs=[Intent]).chain(agent, offline, sink)
        first.script(ErrorReply(status=500))
        second.script(ErrorReply(status=401, message="bad key"))
        try:
            async with GraphRun(graph, clock=clock, on_output=outputs) as run:
                # 1. both engines refuse: the turn is handed over and the offline policy looks the order up
                await run.push(intent(run, "check_order", "where is my order 1002", **ORDER))
                await outputs.wait_for(TextToSpeak)
                assert len(first.requests) == 1 and len(second.requests) == 1
                results = sink.of(ToolResult)
                assert [(r.tool, r.status) for r in results] == [("check_order_status", "done")]  # type: ignore[attr-defined]
                carrier = results[0].result["carrier"]  # type: ignore[attr-defined]
                said = " ".join(f.text for f in sink.of(TextToSpeak))  # type: ignore[attr-defined]
                assert said.startswith("Order 1 0 0 2 is on its way with") and carrier in said
                assert DEFAULT_FALLBACK not in said
                # 2. every breaker open: the next turn is not even asked of an LLM
                await run.push(intent(run, "business_hours", "when are you open"))
                await outputs.wait_for(TextToSpeak, 2)
                assert len(first.requests) == 1 and len(second.requests) == 1
                assert agent.handed_over == 2 and offline.served == 2
                # what the offline policy said is in the conversation the LLM will see when it is back
                assert memory.messages()[-1].content == sink.of(TextToSpeak)[-1].text  # type: ignore[attr-defined]
                # 3. the cooldown passes: the first breaker half-opens, its trial answers
                await clock.advance(30.0)
                first.script(TextReply(text="We open at nine."))
                ends = outputs.count(LLMResponseEnd)
                await run.push(intent(run, "business_hours", "and tomorrow?"))
                await outputs.wait_for(LLMResponseEnd, ends + 1)
                assert len(first.requests) == 2 and offline.served == 2
                assert outputs.count(OfflineTurn) == 0  # consumed by the stand-in, never past it
                history = first.bodies[-1]["messages"]
                assert any(m["role"] == "assistant" and m["content"] == said for m in history)
        finally:
            await llm.aclose()
