"""Declarations are generated from signatures + docstrings, and calls are checked by the same types."""

from __future__ import annotations

import inspect
import json
from typing import Annotated, Any, Literal

import pytest

from voiceflow.processors.tools import TOOL_NAMES, CallCenterTools, DeclaredTool, Schema, ToolRegistry, tool
from voiceflow.services.llm.tools import ToolSpec, openai_tool

EXPECTED_REQUIRED = {
    "check_order_status": ["order_id"],
    "schedule_appointment": ["date", "time", "name", "purpose"],
    "cancel_appointment": ["confirmation_number"],
    "reschedule_appointment": ["confirmation_number", "new_date", "new_time"],
    "transfer_to_human": ["department"],
    "look_up_account": ["identifier"],
    "get_business_hours": [],
    "collect_feedback": ["rating"],
    "end_call": [],
}


def test_the_nine_tools_are_declared_as_provider_neutral_specs(tools: CallCenterTools) -> None:
    specs = tools.registry.declarations()
    assert all(isinstance(s, ToolSpec) for s in specs)
    by_name = {s.name: s for s in specs}
    assert set(by_name) == set(TOOL_NAMES) == set(EXPECTED_REQUIRED)
    for name, spec in by_name.items():
        assert spec.description and "\n" not in spec.description
        params = spec.parameters
        assert spec.required == tuple(EXPECTED_REQUIRED[name])
        assert params["type"] == "object" and params["additionalProperties"] is False
        assert params["required"] == EXPECTED_REQUIRED[name]
        # every property is a parameter of the Python signature, with a description from Args:
        method = getattr(getattr(tools, _group(name)), name)
        assert list(params["properties"]) == list(inspect.signature(method).parameters)
        for prop in params["properties"].values():
            assert prop["description"]
    # the OpenAI wire shape is a translation of the spec, and it serializes as sent
    wire = [openai_tool(s) for s in specs]
    assert {w["function"]["name"] for w in wire} == set(TOOL_NAMES)
    assert all(
        w["type"] == "function" and w["function"]["parameters"] == by_name[w["function"]["name"]].parameters
        for w in wire
    )
    json.dumps(wire)


def _group(name: str) -> str:
    if name in ("check_order_status", "look_up_account"):
        return "accounts"
    if "appointment" in name:
        return "appointments"
    return "service"


def test_types_map_to_json_schema(tools: CallCenterTools) -> None:
    decl = {s.name: s.parameters for s in tools.registry.declarations()}
    dept = decl["transfer_to_human"]["properties"]["department"]
    assert dept["type"] == "string"
    assert dept["enum"] == ["customer_service", "billing", "technical_support", "sales"]
    hours_dept = decl["get_business_hours"]["properties"]["department"]
    assert hours_dept["enum"] == dept["enum"]  # Optional[Literal] keeps the enum, is not required
    rating = decl["collect_feedback"]["properties"]["rating"]
    assert (rating["type"], rating["minimum"], rating["maximum"]) == ("integer", 1, 5)
    assert decl["end_call"]["properties"]["reason"]["type"] == "string"


def test_a_new_tool_declares_itself_from_its_signature() -> None:
    @tool
    async def ship_gift(
        recipient: str,
        wrap: Literal["paper", "box"],
        quantity: Annotated[int, Schema(minimum=1)] = 1,
        express: bool = False,
        note: str | None = None,
        tags: list[str] | None = None,
    ) -> dict[str, Any]:
        """Send a gift to someone.

        Longer explanation that also belongs to the description.

        Args:
            recipient: Who gets it.
            wrap: How it is wrapped; paper is cheaper
                and box is sturdier.
            quantity: How many.
            express: Ship overnight.
            note: Card text.
            tags: Labels.

        Returns:
            The shipment.
        """
        return {"recipient": recipient, "wrap": wrap, "quantity": quantity}

    declared = DeclaredTool.from_callable(ship_gift)
    spec = declared.spec
    assert spec.name == "ship_gift"
    assert (
        spec.description == "Send a gift to someone. Longer explanation that also belongs to the description."
    )
    props = spec.parameters["properties"]
    assert props["wrap"] == {
        "type": "string",
        "enum": ["paper", "box"],
        "description": "How it is wrapped; paper is cheaper and box is sturdier.",
    }
    assert props["quantity"] == {"type": "integer", "minimum": 1, "description": "How many."}
    assert props["express"]["type"] == "boolean"
    assert props["note"]["type"] == "string"
    assert props["tags"] == {"type": "array", "items": {"type": "string"}, "description": "Labels."}
    assert spec.parameters["required"] == ["recipient", "wrap"]


def test_undeclarable_tools_fail_when_registered() -> None:
    async def untyped(x) -> dict[str, Any]:  # type: ignore[no-untyped-def]
        """Has no hint."""
        return {}

    async def undocumented(x: int) -> dict[str, Any]:
        return {}

    async def weird(x: complex) -> dict[str, Any]:
        """Complex numbers are not JSON."""
        return {}

    registry = ToolRegistry()
    for fn, message in ((untyped, "no type hint"), (undocumented, "docstring"), (weird, "cannot declare")):
        with pytest.raises(TypeError, match=message):
            registry.register(fn)


async def test_arguments_are_checked_against_the_same_types() -> None:
    calls: list[dict[str, Any]] = []

    async def rate(
        score: Annotated[int, Schema(minimum=1, maximum=5)], mood: Literal["good", "bad"]
    ) -> dict[str, Any]:
        """Rate.

        Args:
            score: 1-5.
            mood: How it felt.
        """
        calls.append({"score": score, "mood": mood})
        return {"score": score}

    registry = ToolRegistry([rate])
    ok = await registry.call("rate", {"score": "4", "mood": "GOOD"})  # lossless coercions
    assert ok.ok and calls[-1] == {"score": 4, "mood": "good"}
    cases = {
        '{"score": 4, "mood": "good"': "invalid_json",
        "[1, 2]": "invalid_arguments",
        '{"mood": "good"}': "missing_argument",
        '{"score": 4, "mood": "good", "extra": 1}': "unexpected_argument",
        '{"score": "four", "mood": "good"}': "invalid_argument",
        '{"score": true, "mood": "good"}': "invalid_argument",
        '{"score": 4.5, "mood": "good"}': "invalid_argument",
        '{"score": 9, "mood": "good"}': "out_of_range",
        '{"score": 3, "mood": "meh"}': "invalid_argument",
    }
    for arguments, code in cases.items():
        outcome = await registry.call("rate", arguments)
        assert not outcome.ok and outcome.code == code, arguments
        assert outcome.message.endswith((".", "?"))  # a sentence the dialogue can speak
    assert len(calls) == 1  # no bad call reached the tool
    unknown = await registry.call("fly_to_moon", {})
    assert unknown.code == "unknown_tool" and "rate" in unknown.error["available"]  # type: ignore[index]


async def test_a_crashing_tool_becomes_an_internal_error() -> None:
    async def broken() -> dict[str, Any]:
        """Always fails."""
        raise ZeroDivisionError("oops")

    outcome = await ToolRegistry([broken]).call("broken", None)
    assert not outcome.ok and outcome.code == "internal_error"
    assert json.loads(outcome.to_content())["error"]["code"] == "internal_error"
