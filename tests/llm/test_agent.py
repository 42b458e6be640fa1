"""The tool-call feedback loop: LLMAgent in a graph, the real SDK, the fake server over a socket."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from tests.llm.llm_helpers import BargeIn, Outputs, barged
from voiceflow.db import open_seeded
from voiceflow.frames import (
    Intent,
    LLMResponseEnd,
    LLMToken,
    Metrics,
    ToolCall,
    ToolResult,
    Transcript,
    UserStartedSpeaking,
)
from voiceflow.graphs import Collector, Graph, GraphRun, VirtualClock
from voiceflow.processors.llm.agent import DEFAULT_FALLBACK, LLMAgent
from voiceflow.processors.memory import ConversationMemory
from voiceflow.processors.tools import CallState, ToolError, ToolRegistry, build_registry
from voiceflow.services.llm.openai import OpenAICompatEngine
from voiceflow.testing.fakes.openai_server import (
    ErrorReply,
    FakeOpenAIServer,
    FakeToolCall,
    TextReply,
    ToolCallsReply,
)

ORDERS = {"1001": "shipped", "1002": "processing"}


class Tools:
    """Real tools in a real ToolRegistry; ``slow_lookup`` blocks until released (or cancelled)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        self.cancelled = False

    async def check_order_status(self, order_id: str) -> dict[str, Any]:
        """Look up an order.

        Args:
            order_id: The order number.
        """
        self.calls.append(("check_order_status", {"order_id": order_id}))
        if order_id not in ORDERS:
            raise ToolError("order_not_found", f"I couldn't find order {order_id}.", order_id=order_id)
        return {"order_id": order_id, "status": ORDERS[order_id]}

    async def get_business_hours(self, department: str = "main") -> dict[str, Any]:
        """Opening hours.

        Args:
            department: Which department.
        """
        self.calls.append(("get_business_hours", {"department": department}))
        return {"department": department, "hours": "9am-5pm"}

    async def slow_lookup(self, query: str) -> dict[str, Any]:
        """A lookup that takes as long as the test wants.

        Args:
            query: What to look up.
        """
        self.calls.append(("slow_lookup", {"query": query}))
        self.started.set()
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        return {"query": query, "answer": 42}

    def registry(self) -> ToolRegistry:
        return ToolRegistry([self.check_order_status, self.get_business_hours, self.slow_lookup])


def make_graph(agent: LLMAgent) -> tuple[Graph, Collector]:
    sink = Collector(name="sink")
    graph = Graph("llm", inputs=[Transcript, Intent, UserStartedSpeaking]).chain(
        BargeIn(name="barge"), agent, sink
    )
    return graph, sink


def tokens(frames: list[Any]) -> str:
    return "".join(f.text for f in frames if isinstance(f, LLMToken))


async def test_plain_reply_streams_tokens(
    fake: FakeOpenAIServer, engine: OpenAICompatEngine, outputs: Outputs
) -> None:
    fake.script(TextReply(chunks=["Hi", " there,", " how can I help?"]))
    tools = Tools()
    agent = LLMAgent(engine, system_prompt="You are a call-center agent.", registry=tools.registry())
    graph, sink = make_graph(agent)
    async with GraphRun(graph, clock=VirtualClock(), on_output=outputs) as run:
        await run.push(run.make(Transcript, text="hello", final=True))
        await run.push(run.make(Transcript, text="ignored interim", final=False))
        await outputs.wait_for(LLMResponseEnd)
    assert [f.text for f in sink.of(LLMToken)] == ["Hi", " there,", " how can I help?"]  # type: ignore[attr-defined]
    assert len(fake.bodies) == 1
    body = fake.bodies[0]
    assert body["messages"] == [
        {"role": "system", "content": "You are a call-center agent."},
        {"role": "user", "content": "hello"},
    ]
    assert {t["function"]["name"] for t in body["tools"]} == {
        "check_order_status",
        "get_business_hours",
        "slow_lookup",
    }
    assert body["tool_choice"] == "auto"
    assert agent.memory.current is not None
    assert agent.memory.current.assistant_text == "Hi there, how can I help?"
    metrics = [f for f in sink.of(Metrics) if "llm_ttft_ms" in f.values]  # type: ignore[attr-defined]
    assert len(metrics) == 1
    assert not run.errors


async def test_one_tool_round(fake: FakeOpenAIServer, engine: OpenAICompatEngine, outputs: Outputs) -> None:
    fake.script(
        ToolCallsReply(
            content="Let me check.",
            calls=[FakeToolCall("check_order_status", {"order_id": "1001"}, id="call_1", fragments=4)],
        ),
        TextReply(text="Order 1001 has shipped."),
    )
    tools = Tools()
    agent = LLMAgent(engine, registry=tools.registry())
    graph, sink = make_graph(agent)
    async with GraphRun(graph, clock=VirtualClock(), on_output=outputs) as run:
        await run.push(run.make(Transcript, text="where is order 1001?", final=True))
        await outputs.wait_for(LLMResponseEnd)
    assert tools.calls == [("check_order_status", {"order_id": "1001"})]
    (call,) = sink.of(ToolCall)
    assert (call.call_id, call.tool, call.arguments) == ("call_1", "check_order_status", {"order_id": "1001"})  # type: ignore[attr-defined]
    (result,) = sink.of(ToolResult)
    assert result.status == "done" and result.result == {"order_id": "1001", "status": "shipped"}  # type: ignore[attr-defined]
    assert tokens(sink.frames) == "Let me check.Order 1001 has shipped."
    assert agent.tracker is not None and agent.tracker.state("call_1") is CallState.DONE
    second = fake.bodies[1]["messages"]
    assert second[-2]["role"] == "assistant" and second[-2]["content"] == "Let me check."
    assert second[-2]["tool_calls"][0]["id"] == "call_1"
    assert second[-1] == {
        "role": "tool",
        "tool_call_id": "call_1",
        "content": json.dumps({"order_id": "1001", "status": "shipped"}),
    }


async def test_three_round_cap_then_tools_disabled(
    fake: FakeOpenAIServer, engine: OpenAICompatEngine, outputs: Outputs
) -> None:
    fake.script(
        *[
            ToolCallsReply(calls=[FakeToolCall("check_order_status", {"order_id": "1001"}, id=f"c{i}")])
            for i in range(3)
        ],
        TextReply(text="It shipped."),
    )
    tools = Tools()
    agent = LLMAgent(engine, registry=tools.registry(), max_tool_rounds=3)
    graph, sink = make_graph(agent)
    async with GraphRun(graph, clock=VirtualClock(), on_output=outputs) as run:
        await run.push(run.make(Transcript, text="status of 1001 please", final=True))
        await outputs.wait_for(LLMResponseEnd)
    bodies = fake.bodies
    assert len(bodies) == 4
    for body in bodies[:3]:
        assert body["tool_choice"] == "auto" and len(body["tools"]) == 3
    assert "tools" not in bodies[3] and "tool_choice" not in bodies[3]
    assert [m["tool_call_id"] for m in bodies[3]["messages"] if m["role"] == "tool"] == ["c0", "c1", "c2"]
    assert len(tools.calls) == 3
    assert tokens(sink.frames) == "It shipped."
    assert [f.values["llm_tool_rounds"] for f in sink.of(Metrics) if "llm_tool_rounds" in f.values] == [3.0]  # type: ignore[attr-defined]


async def test_calls_after_the_cap_are_ignored_and_never_silent(
    fake: FakeOpenAIServer, engine: OpenAICompatEngine, outputs: Outputs
) -> None:
    """A server that still returns tool calls when none were offered: no 5th request, a spoken fallback."""
    fake.script(
        *[ToolCallsReply(calls=[FakeToolCall("get_business_hours", {}, id=f"h{i}")]) for i in range(2)],
    )
    tools = Tools()
    agent = LLMAgent(engine, registry=tools.registry(), max_tool_rounds=1, fallback_text="Sorry about that.")
    graph, sink = make_graph(agent)
    async with GraphRun(graph, clock=VirtualClock(), on_output=outputs) as run:
        await run.push(run.make(Transcript, text="hours?", final=True))
        await outputs.wait_for(LLMResponseEnd)
    assert len(fake.bodies) == 2 and "tools" not in fake.bodies[1]
    assert tokens(sink.frames) == "Sorry about that."
    assert agent.memory.unanswered_tool_calls() == []


async def test_tool_errors_and_malformed_arguments_are_fed_back(
    fake: FakeOpenAIServer, engine: OpenAICompatEngine, outputs: Outputs
) -> None:
    fake.script(
        ToolCallsReply(
            calls=[
                FakeToolCall("check_order_status", {"order_id": "9999"}, id="bad_order"),
                FakeToolCall("check_order_status", '{"order_id": ', id="bad_json"),
                FakeToolCall("get_business_hours", {"department": "sales"}, id="ok"),
            ],
            interleave=True,
        ),
        TextReply(text="I couldn't find order 9999."),
    )
    tools = Tools()
    agent = LLMAgent(engine, registry=tools.registry())
    graph, sink = make_graph(agent)
    async with GraphRun(graph, clock=VirtualClock(), on_output=outputs) as run:
        await run.push(run.make(Transcript, text="check 9999 and sales hours", final=True))
        await outputs.wait_for(LLMResponseEnd)
    results = {f.call_id: f for f in sink.of(ToolResult)}  # type: ignore[attr-defined]
    assert results["bad_order"].status == "error"
    assert results["bad_order"].error == "I couldn't find order 9999."
    assert results["bad_json"].status == "error" and results["bad_json"].result["code"] == "invalid_json"
    assert results["ok"].status == "done"
    fed_back = {
        m["tool_call_id"]: json.loads(m["content"]) for m in fake.bodies[1]["messages"] if m["role"] == "tool"
    }
    assert fed_back["bad_order"]["error"]["code"] == "order_not_found"
    assert fed_back["bad_json"]["error"]["code"] == "invalid_json"
    assert fed_back["ok"] == {"department": "sales", "hours": "9am-5pm"}
    assert agent.tracker is not None
    assert agent.tracker.state("bad_order") is CallState.ERROR
    assert agent.tracker.state("ok") is CallState.DONE
    # the malformed call goes back to the provider exactly as the model sent it
    sent = fake.bodies[1]["messages"][-4]["tool_calls"]
    assert [c["function"]["arguments"] for c in sent][1] == '{"order_id": '


async def test_interrupt_mid_tool_cancels_and_keeps_history_consistent(
    fake: FakeOpenAIServer, engine: OpenAICompatEngine, outputs: Outputs
) -> None:
    fake.script(
        ToolCallsReply(
            content="One moment.", calls=[FakeToolCall("slow_lookup", {"query": "x"}, id="slow_1")]
        ),
        TextReply(text="We are open nine to five."),
    )
    tools = Tools()
    clock = VirtualClock()
    agent = LLMAgent(engine, registry=tools.registry(), tool_timeout=30.0)
    graph, sink = make_graph(agent)
    async with GraphRun(graph, clock=clock, on_output=outputs) as run:
        await run.push(run.make(Transcript, text="look up x", final=True))
        async with asyncio.timeout(10):
            await tools.started.wait()
        await run.push(run.make(UserStartedSpeaking))
        await clock.advance(0)
        assert tools.cancelled
        assert agent.tracker is not None and agent.tracker.state("slow_1") is CallState.CANCELLED
        turn = agent.memory.current
        assert turn is not None and turn.interrupted
        roles = [m.role for m in turn.messages]
        assert roles == ["user", "assistant", "tool"]
        assert json.loads(turn.messages[2].content or "")["error"]["code"] == "cancelled"
        assert clock.pending == 0  # the tool timeout's timer is gone: nothing waits
        await run.push(run.make(Transcript, text="never mind, when are you open?", final=True))
        await outputs.wait_for(LLMResponseEnd)
    assert run.generation.value == 1
    assert not sink.of(ToolResult)  # the cancelled result was never pushed as fresh output
    assert [f.text for f in sink.of(LLMToken) if f.generation == 1] == [  # type: ignore[attr-defined]
        "We",
        " are",
        " open",
        " nine",
        " to",
        " five.",
    ]
    # the fake rejects (400) a history with an unanswered tool call: this request went through
    second = fake.bodies[1]["messages"]
    assert [m["role"] for m in second] == ["user", "assistant", "tool", "user"]
    assert json.loads(second[2]["content"])["status"] == "cancelled"
    assert not run.errors


async def test_tool_timeout_on_the_run_clock(
    fake: FakeOpenAIServer, engine: OpenAICompatEngine, outputs: Outputs
) -> None:
    fake.script(
        ToolCallsReply(calls=[FakeToolCall("slow_lookup", {"query": "y"}, id="slow_2")]),
        TextReply(text="That is taking too long, sorry."),
    )
    tools = Tools()
    clock = VirtualClock()
    agent = LLMAgent(engine, registry=tools.registry(), tool_timeout=5.0)
    graph, _ = make_graph(agent)
    async with GraphRun(graph, clock=clock, on_output=outputs) as run:
        await run.push(run.make(Transcript, text="look up y", final=True))
        async with asyncio.timeout(10):
            await tools.started.wait()
        await clock.advance(4.9)
        assert len(fake.bodies) == 1
        await clock.advance(0.2)
        await outputs.wait_for(LLMResponseEnd)
    assert tools.cancelled
    tool_msg = next(m for m in fake.bodies[1]["messages"] if m["role"] == "tool")
    assert json.loads(tool_msg["content"])["error"]["code"] == "timeout"
    assert agent.tracker is not None and agent.tracker.state("slow_2") is CallState.CANCELLED


async def test_interrupt_while_streaming_records_partial_reply(
    fake: FakeOpenAIServer, engine: OpenAICompatEngine, outputs: Outputs
) -> None:
    release = asyncio.Event()  # the fake holds the stream after the first words until released
    fake.script(TextReply(chunks=["First part.", " Second part."], hold_after=2, release=release))
    agent = LLMAgent(engine)
    graph, sink = make_graph(agent)
    async with GraphRun(graph, clock=VirtualClock(), on_output=outputs) as run:
        await run.push(run.make(Transcript, text="tell me a story", final=True))
        await outputs.wait_for(LLMToken)
        await run.push(run.make(UserStartedSpeaking))
        fake.script(TextReply(text="Okay."))
        await barged(run)
        await run.push(run.make(Transcript, text="stop", final=True))
        await outputs.wait_for(LLMResponseEnd)
        release.set()
    turns = agent.memory.turns
    assert turns[0].interrupted and turns[0].assistant_text == "First part."
    assert turns[1].assistant_text == "Okay."
    assert tokens(sink.frames) == "First part.Okay."


async def test_llm_error_speaks_fallback_and_call_continues(
    fake: FakeOpenAIServer, engine: OpenAICompatEngine, outputs: Outputs
) -> None:
    fake.script(ErrorReply(status=500, message="upstream exploded"), TextReply(text="Hello again."))
    agent = LLMAgent(engine)
    graph, sink = make_graph(agent)
    async with GraphRun(graph, clock=VirtualClock(), on_output=outputs) as run:
        await run.push(run.make(Transcript, text="hello?", final=True))
        await outputs.wait_for(LLMResponseEnd)
        await run.push(run.make(Transcript, text="are you there?", final=True))
        await outputs.wait_for(LLMResponseEnd, count=2)
    assert tokens(sink.frames) == DEFAULT_FALLBACK + "Hello again."
    (error,) = run.errors
    assert (
        error.processor == agent.name and "HTTP 500" in error.message and "upstream exploded" in error.message
    )
    assert [t.assistant_text for t in agent.memory.turns] == [DEFAULT_FALLBACK, "Hello again."]


async def test_responds_to_intents_with_nlu_context(
    fake: FakeOpenAIServer, engine: OpenAICompatEngine, outputs: Outputs
) -> None:
    fake.script(TextReply(text="Checking order 1002."))
    memory = ConversationMemory("sys")
    agent = LLMAgent(engine, memory=memory, respond_to="intent")
    graph, _ = make_graph(agent)
    async with GraphRun(graph, clock=VirtualClock(), on_output=outputs) as run:
        await run.push(run.make(Transcript, text="where's my order 1002", final=True))
        await run.push(
            run.make(
                Intent,
                intent="check_order",
                confidence=0.97,
                text="where's my order 1002",
                entities={"order_id": "1002"},
            )
        )
        await outputs.wait_for(LLMResponseEnd)
    messages = fake.bodies[0]["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "system"]
    assert "check_order" in messages[2]["content"] and "order_id=1002" in messages[2]["content"]
    assert memory.turns[0].intent == "check_order" and memory.turns[0].entities == {"order_id": "1002"}
    assert len(memory.turns) == 1


async def test_long_calls_are_summarized_into_the_context(
    fake: FakeOpenAIServer, engine: OpenAICompatEngine, outputs: Outputs
) -> None:
    fake.rule = lambda body: TextReply(text=f"Noted, turn {len(fake.bodies)}.")
    memory = ConversationMemory("sys", max_turns=2, keep_recent=1)
    agent = LLMAgent(engine, memory=memory)
    graph, _ = make_graph(agent)
    async with GraphRun(graph, clock=VirtualClock(), on_output=outputs) as run:
        for i, text in enumerate(["my order is 1001", "it was due on the 5th", "ok", "what did I say?"]):
            await run.push(run.make(Transcript, text=text, final=True))
            await outputs.wait_for(LLMResponseEnd, count=i + 1)
    assert memory.summarized_turns >= 2 and memory.turn_count == 4
    last = fake.bodies[-1]["messages"]
    assert last[0] == {"role": "system", "content": "sys"}
    assert last[1]["role"] == "system" and "1001" in last[1]["content"]
    assert "my order is 1001" not in [m.get("content") for m in last if m["role"] == "user"]


async def test_reused_call_ids_from_a_local_server_still_run(
    fake: FakeOpenAIServer, engine: OpenAICompatEngine, outputs: Outputs
) -> None:
    """Servers that number calls ``call_0`` in every response must not get the first result replayed."""
    fake.script(
        ToolCallsReply(calls=[FakeToolCall("check_order_status", {"order_id": "1001"}, id="call_0")]),
        ToolCallsReply(calls=[FakeToolCall("check_order_status", {"order_id": "1002"}, id="call_0")]),
        TextReply(text="1001 shipped, 1002 is processing."),
    )
    tools = Tools()
    agent = LLMAgent(engine, registry=tools.registry())
    graph, sink = make_graph(agent)
    async with GraphRun(graph, clock=VirtualClock(), on_output=outputs) as run:
        await run.push(run.make(Transcript, text="orders 1001 and 1002?", final=True))
        await outputs.wait_for(LLMResponseEnd)
    assert [args["order_id"] for _, args in tools.calls] == ["1001", "1002"]
    results = sink.of(ToolResult)
    assert [r.result["status"] for r in results] == ["shipped", "processing"]  # type: ignore[attr-defined]
    ids = [r.call_id for r in results]  # type: ignore[attr-defined]
    assert ids[0] == "call_0" and ids[1] != "call_0"
    tool_ids = [m["tool_call_id"] for m in fake.bodies[2]["messages"] if m["role"] == "tool"]
    assert tool_ids == ids


async def test_with_the_real_call_center_tools(
    fake: FakeOpenAIServer, engine: OpenAICompatEngine, outputs: Outputs, tmp_path: Path
) -> None:
    """The nine SQLite tools' declarations go to the provider; a call reads the seeded database."""
    fake.script(
        ToolCallsReply(calls=[FakeToolCall("check_order_status", {"order_id": "1001"}, id="o1")]),
        TextReply(text="Here is your order status."),
    )
    db = await open_seeded(tmp_path / "cc.db")
    try:
        agent = LLMAgent(engine, registry=build_registry(db))
        graph, sink = make_graph(agent)
        async with GraphRun(graph, clock=VirtualClock(), on_output=outputs) as run:
            await run.push(run.make(Transcript, text="what's the status of order 1001", final=True))
            await outputs.wait_for(LLMResponseEnd)
    finally:
        await db.close()
    assert len(fake.bodies[0]["tools"]) == 9
    (result,) = sink.of(ToolResult)
    assert result.status == "done", result  # type: ignore[attr-defined]
    fed_back = json.loads(next(m for m in fake.bodies[1]["messages"] if m["role"] == "tool")["content"])
    assert "1001" in json.dumps(fed_back)


async def test_a_continued_turn_leaves_no_trace_in_the_context(
    fake: FakeOpenAIServer, engine: OpenAICompatEngine, outputs: Outputs
) -> None:
    fake.script(TextReply(chunks=["Sure, which order?"]), TextReply(chunks=["Order 1002 is processing."]))
    agent = LLMAgent(engine, system_prompt="You are a call-center agent.", registry=Tools().registry())
    graph, _sink = make_graph(agent)
    async with GraphRun(graph, clock=VirtualClock(), on_output=outputs) as run:
        await run.push(run.make(Transcript, text="I have a question about my order", final=True))
        await outputs.wait_for(LLMResponseEnd)
        # the caller goes on: the endpointer reopens the turn, whose final carries both parts
        await run.push(run.make(UserStartedSpeaking, continues=True))
        await barged(run)
        whole = "I have a question about my order, it's order 1002"
        await run.push(run.make(Transcript, text=whole, final=True))
        await outputs.wait_for(LLMResponseEnd, count=2)
    users = [m["content"] for m in fake.bodies[1]["messages"] if m["role"] == "user"]
    assert users == [whole]  # the first half and the reply to it are gone
    assert [t.user_text for t in agent.memory.turns] == [whole]
    assert not run.errors
