"""The fake Realtime server's "model": deterministic rules from what the caller said to what it does.

It sees the conversation as the fake keeps it (user transcripts, its own answers,
function calls and their outputs) and decides one step: call a declared function,
or say a sentence. Rules are keyword-based so a test knows what a line triggers:

- "order" + a number (digits or spoken digits) → ``check_order_status(order_id)``;
- "hours" / "open" / "close" → ``get_business_hours()``;
- "policy", "return", "warranty", "shipping", "refund" → ``search_knowledge_base(query)``;
- "bye" / "goodbye" → ``end_call(reason)``;
- "rate" / "rating" / "feedback" + a number word → ``collect_feedback(rating, comment)``;
- a function output is answered from its fields (or its error message), e.g. a
  ``transfer_to_human`` (the keypad's 0) with the team it puts the caller through to;
- no user turn yet → the greeting; anything else → a request to rephrase.

A function the session did not declare is never called (the rule falls through to text).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FunctionCallStep", "ModelContext", "SayStep", "decide", "spoken_number"]

GREETING = "Hi! Thanks for calling Acme Home. How can I help you today?"
REPHRASE = "Sorry, I didn't catch that. Could you say it another way?"
FAREWELL = "Thanks for calling. Have a great day, goodbye!"

_DIGITS = {
    "zero": "0", "oh": "0", "o": "0", "one": "1", "two": "2", "to": "2", "too": "2", "three": "3",
    "four": "4", "for": "4", "five": "5", "six": "6", "seven": "7", "eight": "8", "ate": "8", "nine": "9",
}  # fmt: skip
_HOMOPHONES = ("o", "oh", "to", "too", "for", "ate")
_KB_WORDS = ("policy", "return", "returns", "warranty", "shipping", "refund", "deliver")


@dataclass(frozen=True)
class SayStep:
    text: str


@dataclass(frozen=True)
class FunctionCallStep:
    name: str
    arguments: str  # JSON text, as the model streams it


@dataclass
class ModelContext:
    """What the rules read: the last user transcript, the outputs since it, the declared tools."""

    tools: set[str] = field(default_factory=set)
    user_turns: int = 0
    last_user: str = ""
    #: (name, output JSON) of function calls answered since the last user turn
    outputs: list[tuple[str, str]] = field(default_factory=list)
    #: names of functions already called since the last user turn
    called: list[str] = field(default_factory=list)


def spoken_number(text: str) -> str | None:
    """The first run of digits in ``text``, written ("1002") or spoken ("one zero zero two")."""
    written = re.search(r"\d{3,}", text)
    if written:
        return written.group(0)
    run: list[str] = []
    for word in re.findall(r"[a-z]+|\d", text.lower()):
        digit = _DIGITS.get(word) if not word.isdigit() else word
        if digit is not None and (word not in ("o", "to", "too", "for", "oh") or run):
            run.append(digit)
        elif len(run) >= 3:
            break
        else:
            run = []
    return "".join(run) if len(run) >= 3 else None


def decide(ctx: ModelContext) -> SayStep | FunctionCallStep:
    if ctx.outputs:
        return SayStep(_answer(*ctx.outputs[-1]))
    if ctx.user_turns == 0:
        return SayStep(GREETING)
    text = ctx.last_user.lower()
    words = set(re.findall(r"[a-z]+", text))
    if words & {"bye", "goodbye"}:
        if "end_call" in ctx.tools and "end_call" not in ctx.called:
            return FunctionCallStep("end_call", json.dumps({"reason": "caller said goodbye"}))
        return SayStep(FAREWELL)
    if words & {"rate", "rating", "feedback"} and "collect_feedback" in ctx.tools:
        rating = next((int(_DIGITS[w]) for w in text.split() if w in _DIGITS and w not in _HOMOPHONES), None)
        if rating is not None:
            return FunctionCallStep(
                "collect_feedback", json.dumps({"rating": rating, "comment": ctx.last_user})
            )
    number = spoken_number(text)
    if "order" in words and number and "check_order_status" in ctx.tools:
        return FunctionCallStep("check_order_status", json.dumps({"order_id": number}))
    if words & {"hours", "open", "close", "closing"} and "get_business_hours" in ctx.tools:
        return FunctionCallStep("get_business_hours", json.dumps({}))
    if words & set(_KB_WORDS) and "search_knowledge_base" in ctx.tools:
        return FunctionCallStep("search_knowledge_base", json.dumps({"query": ctx.last_user}))
    return SayStep(REPHRASE)


def _answer(name: str, output: str) -> str:
    try:
        data: Any = json.loads(output)
    except ValueError:
        return "Sorry, something went wrong on my side."
    if not isinstance(data, dict):
        return "Done."
    if isinstance(data.get("error"), dict):
        return str(data["error"].get("message") or "Sorry, I couldn't do that.")
    if name == "end_call":
        return FAREWELL
    if name == "check_order_status":
        status = data.get("spoken_status") or data.get("status", "being processed")
        return f"Order {' '.join(str(data.get('order_id', '')))} is {status}."
    if name == "collect_feedback":
        return f"Thanks for the feedback! I've noted a rating of {data.get('rating')}."
    if name == "get_business_hours":
        return str(data.get("spoken_hours") or "We're open every day.")
    if name == "transfer_to_human":
        return f"I'm putting you through to our {data.get('department_name', 'support')} team now."
    if name == "search_knowledge_base":
        return str(data.get("answer") or "I couldn't find that in our help pages.")
    return "Done. Is there anything else?"
