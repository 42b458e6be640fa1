"""The LLM agent's retry with backoff, through the Anthropic SDK and its fake: a retryable
failure before any token is retried after the backoff (on the run clock), the tool that
already ran is not run again, the caller hears the real answer, and the failure is reported
upstream. A failure after tokens were spoken is not retried (the caller heard them)."""

from __future__ import annotations

import asyncio

from tests.llm.llm_helpers import Outputs
from tests.llm.test_agent import Tools, make_graph, tokens
from voiceflow.frames import LLMResponseEnd, Metrics, ToolCall, Transcript
from voiceflow.graphs import GraphRun, VirtualClock
from voiceflow.processors.llm.agent import DEFAULT_FALLBACK, LLMAgent
from voiceflow.services.llm.anthropic import AnthropicEngine
from voiceflow.services.provider_metrics import parse
from voiceflow.testing.fakes.anthropic_server import FakeAnthropicServer
from voiceflow.testing.fakes.llm_server import CallTool, Fail, Say


async def _until_answered(outputs: Outputs, clock: VirtualClock, count: int = 1) -> None:
    """Advance the virtual clock (the agent's backoff sleeps on it) until the reply has ended."""
    async with asyncio.timeout(10):
        while outputs.count(LLMResponseEnd) < count:
            await clock.advance(0.05)
            await asyncio.sleep(0.01)


async def test_a_retryable_failure_is_retried_without_running_the_tool_again() -> None:
    outputs = Outputs()
    tools = Tools()
    clock = VirtualClock()
    async with FakeAnthropicServer(api_key="sk") as fake:
        fake.script(
            CallTool(name="check_order_status", arguments={"order_id": "1001"}),
            Fail(status=529, message="Overloaded"),
            Fail(status=429, message="slow down", retry_after=0.5),
            Say(text="Order 1001 has shipped."),
        )
        engine = AnthropicEngine("claude-fake", api_key="sk", base_url=fake.base_url, timeout=5.0)
        agent = LLMAgent(engine, registry=tools.registry(), max_retries=2, retry_backoff_s=0.2)
        graph, sink = make_graph(agent)
        async with GraphRun(graph, clock=clock, on_output=outputs) as run:
            await run.push(run.make(Transcript, text="where is order 1001?", final=True))
            await _until_answered(outputs, clock)
        await engine.aclose()
        bodies = fake.bodies
    assert tools.calls == [("check_order_status", {"order_id": "1001"})]  # ran once
    assert len(sink.of(ToolCall)) == 1
    assert len(bodies) == 4 and bodies[1] == bodies[2] == bodies[3]  # the same round, sent again
    assert tokens(sink.frames) == "Order 1001 has shipped."
    messages = [e.message for e in run.errors]
    assert len(messages) == 2
    assert "HTTP 529" in messages[0] and "retrying in 0.20 s" in messages[0]
    assert "HTTP 429" in messages[1] and "retrying in 0.50 s" in messages[1]  # the provider's Retry-After
    provider = [f for f in sink.of(Metrics) if parse(f) == ("llm", "anthropic")]
    errors = [k for f in provider for k in f.values if k.startswith("provider_error/")]
    assert errors == ["provider_error/LLMProviderError", "provider_error/LLMRateLimitError"]
    assert sum("provider_latency_ms" in f.values for f in provider) == 2  # the tool round and the answer


async def test_a_failure_after_spoken_tokens_is_not_retried() -> None:
    outputs = Outputs()
    clock = VirtualClock()
    async with FakeAnthropicServer(api_key="sk") as fake:
        fake.script(Say(chunks=["Let me", " see", " now", " please"], drop_after=6), Say(text="unused"))
        engine = AnthropicEngine("claude-fake", api_key="sk", base_url=fake.base_url, timeout=5.0)
        agent = LLMAgent(engine, max_retries=2)
        graph, sink = make_graph(agent)
        async with GraphRun(graph, clock=clock, on_output=outputs) as run:
            await run.push(run.make(Transcript, text="hello", final=True))
            await _until_answered(outputs, clock)
        await engine.aclose()
        assert len(fake.bodies) == 1
    assert tokens(sink.frames) == "Let me see now " + DEFAULT_FALLBACK  # three pieces, then the cut
    (error,) = run.errors
    assert "connection failed" in error.message and "incomplete" in error.message
