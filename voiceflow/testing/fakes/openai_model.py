"""The deterministic model (``llm_model``) behind ``FakeOpenAIServer``: its ``rule``.

FakeOpenAIServer(rule=model_rule)  # answers every unscripted request like the other LLM fakes
"""

from __future__ import annotations

from typing import Any

from voiceflow.testing.fakes.llm_model import CallTool, decide, openai_conversation
from voiceflow.testing.fakes.openai_server import FakeToolCall, Reply, TextReply, ToolCallsReply


def model_rule(body: dict[str, Any]) -> Reply:
    decision = decide(openai_conversation(body))
    if isinstance(decision, CallTool):
        return ToolCallsReply(calls=[FakeToolCall(decision.name, decision.arguments)])
    return TextReply(text=decision.text)
