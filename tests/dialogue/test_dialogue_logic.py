"""DialoguePolicyLogic without a graph: decisions as data, turn by turn."""

from __future__ import annotations

from datetime import date, time

import pytest

from voiceflow.processors.dialogue import CallTool, DialoguePolicyLogic, DialogueState, Lookup, Say, Turn
from voiceflow.processors.dialogue.templates import TEMPLATES, render
from voiceflow.processors.tools import ToolError, ToolOutcome


class NoSundays:
    def check_slot(self, day: date, at: time | None) -> None:
        if day.weekday() == 6:
            raise ToolError("closed_day", "We're closed on Sundays.")


def test_slot_filling_confirmation_and_tool_request_are_data() -> None:
    logic = DialoguePolicyLogic(slot_rules=NoSundays())
    state = DialogueState(caller_name="Ana Ruiz")
    assert logic.decide(state, Turn("schedule_appointment", {"purpose": "a demo"})) == [
        Say("What day would you like?")
    ]
    assert logic.decide(state, Turn("out_of_scope", {"date": "2025-12-07"})) == [
        Say("We're closed on Sundays. What day would you like?")
    ]
    assert logic.decide(state, Turn("out_of_scope", {"date": "2025-12-08", "time": "9:30 am"})) == [
        Say("Monday, December 8th at 9:30 AM for a demo, under the name Ana Ruiz. Shall I book it?")
    ]
    assert state.slots == {"purpose": "a demo", "name": "Ana Ruiz", "date": "2025-12-08", "time": "09:30"}
    actions = logic.decide(state, Turn("affirm"))
    assert actions == [
        CallTool(
            "schedule_appointment",
            {"date": "2025-12-08", "time": "09:30", "name": "Ana Ruiz", "purpose": "a demo"},
        )
    ]
    result = {
        "confirmation_number": "APT-123456",
        "purpose": "a demo",
        "spoken_date": "Monday, December 8th",
        "spoken_time": "9:30 AM",
        "spoken_confirmation_number": "A P T 1 2 3 4 5 6",
    }
    (reply,) = logic.after_tool(state, actions[0], ToolOutcome.success(result))  # type: ignore[arg-type]
    assert isinstance(reply, Say) and "A P T 1 2 3 4 5 6" in reply.text
    assert state.task is None and state.remembered["confirmation_number"] == "APT-123456"
    assert state.awaiting == "anything_else" and state.last_reply == reply.text


def test_a_cancelled_tool_call_says_nothing_and_changes_nothing() -> None:
    logic = DialoguePolicyLogic()
    state = DialogueState()
    (call,) = logic.decide(state, Turn("check_order", {"order_id": "1002"}))
    assert isinstance(call, CallTool)
    snapshot = state.copy()
    assert (
        logic.after_tool(state, call, ToolOutcome.failure("cancelled", "That request was cancelled.")) == []
    )
    assert state == snapshot


def test_keypad_entries_complete_by_length_or_hash() -> None:
    logic = DialoguePolicyLogic()
    state = DialogueState()
    assert [logic.keypad(state, k) for k in "100"] == [None, None, None]
    assert logic.keypad(state, "2") == Turn(intent="keypad", digits="1002")  # idle: 4 digits = an order
    state.task, state.awaiting = "cancel_appointment", "confirmation_number"
    assert [logic.keypad(state, k) for k in "12345"] == [None] * 5
    assert logic.keypad(state, "#") == Turn(intent="keypad", digits="12345")
    state.awaiting = "confirm"
    assert logic.keypad(state, "2") == Turn(intent="keypad", digits="2")
    logic.keypad(state, "*")
    assert state.dtmf_buffer == ""


def test_unknown_intent_without_knowledge_falls_back_and_with_knowledge_looks_it_up() -> None:
    assert DialoguePolicyLogic().decide(DialogueState(), Turn("out_of_scope", text="x")) == [
        Say(render("fallback"))
    ]
    assert DialoguePolicyLogic(knowledge=True).decide(DialogueState(), Turn("out_of_scope", text="x")) == [
        Lookup("x", fallback=True)
    ]
    assert DialoguePolicyLogic(knowledge=True).decide(
        DialogueState(), Turn("knowledge_question", text="q")
    ) == [Lookup("q")]


@pytest.mark.parametrize("key", sorted(k for k in TEMPLATES if "{" not in TEMPLATES[k]))
def test_fixed_templates_are_sentences(key: str) -> None:
    text = render(key)
    assert text[0].isupper() and text[-1] in ".?!", key
