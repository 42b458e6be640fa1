"""The deterministic "model" behind the LLM fakes: it reads the tools offered and the
conversation, then calls the right tool or answers, so a whole call can run through a fake.

It is a small rule table over what callers of a call center say, applied only to tools
the request actually offers (a request without tools always gets text):

- after a tool result, it answers from that result (``"Done: ..."`` in plain words);
- otherwise the caller's last words pick a tool (a human → ``transfer_to_human``, an order
  number → ``check_order_status``, hours → ``get_business_hours``, a rating →
  ``collect_feedback``, goodbye → ``end_call``; else a tool whose name words all occur);
  required arguments are filled from the words (digits, enum values, the utterance), and a
  required number it did not hear is asked for instead;
- otherwise it answers with a short sentence that repeats what it heard.

Providers' fakes turn its ``Say`` / ``CallTool`` into their own wire events.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

_NUMBER_WORDS = {
    "zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4",
    "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
}  # fmt: skip


@dataclass(frozen=True)
class OfferedTool:
    name: str
    description: str
    parameters: dict[str, Any]


@dataclass
class Conversation:
    """What the model reads from one request, whatever the provider's shape."""

    tools: list[OfferedTool] = field(default_factory=list)
    #: the caller's last words (the last user text in the request)
    last_user: str = ""
    #: the results of the tools called in the last round, when the request ends with them
    tool_results: list[str] = field(default_factory=list)
    #: the request forbids tool calls (tool choice none)
    tools_forbidden: bool = False


@dataclass
class Say:
    text: str


@dataclass
class CallTool:
    name: str
    arguments: dict[str, Any]


Decision = Say | CallTool

#: (words that pick the tool, tool name): the first rule whose tool is offered and whose words occur
_RULES: list[tuple[tuple[str, ...], str]] = [
    (("person", "human", "agent", "representative", "operator", "someone"), "transfer_to_human"),
    (("goodbye", "bye"), "end_call"),
    (("feedback", "rate", "rating", "stars"), "collect_feedback"),
    (("order",), "check_order_status"),
    (("hours", "open", "close", "closing"), "get_business_hours"),
    (("account",), "look_up_account"),
]


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def digits(text: str) -> str:
    """The digits said, written ("1 0 0 2", "one zero zero two", "1002" → "1002")."""
    return "".join(_NUMBER_WORDS.get(w, w if w.isdigit() else "") for w in words(text))


def decide(conversation: Conversation) -> Decision:
    if conversation.tool_results:
        return Say(_answer_from(conversation.tool_results))
    heard = words(conversation.last_user)
    if conversation.tools and not conversation.tools_forbidden:
        offered = {t.name: t for t in conversation.tools}
        chosen = [offered[name] for cues, name in _RULES if name in offered and any(c in heard for c in cues)]
        chosen += [t for t in conversation.tools if all(part in heard for part in t.name.split("_"))]
        if chosen:
            tool = chosen[0]
            arguments = _arguments(tool, conversation.last_user)
            missing = [p for p in tool.parameters.get("required") or [] if p not in arguments]
            if missing:  # a model asks for what it cannot fill rather than guess it
                return Say(f"Sure. What {missing[0].replace('_', ' ')} should I use?")
            return CallTool(tool.name, arguments)
    if not heard:
        return Say("Sorry, I didn't catch that. Could you say it again?")
    return Say(f"You said: {' '.join(heard)}. How can I help with that?")


def _arguments(tool: OfferedTool, said: str) -> dict[str, Any]:
    props: dict[str, Any] = tool.parameters.get("properties") or {}
    required = list(tool.parameters.get("required") or [])
    heard = words(said)
    number = digits(said)
    out: dict[str, Any] = {}
    for name, schema in props.items():
        enum = schema.get("enum")
        kind = schema.get("type")
        if enum:
            matches = [v for v in enum if any(part in heard for part in str(v).split("_"))]
            if matches or name in required:
                out[name] = matches[0] if matches else enum[0]
        elif kind == "integer":
            if number:
                value = int(number[-1])
                out[name] = max(schema.get("minimum", value), min(schema.get("maximum", value), value))
        elif name in required or name in ("reason", "comment"):
            out[name] = number if number and ("id" in name or "number" in name) else said.strip()
    return out


def _answer_from(results: list[str]) -> str:
    """One spoken sentence from the tool results (their ``message`` or their fields)."""
    spoken = []
    for raw in results:
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            spoken.append(raw.strip())
            continue
        if isinstance(value, dict):
            inner = value.get("result", value)
            if isinstance(inner, dict) and isinstance(inner.get("error"), dict):
                inner = inner["error"]
            if isinstance(inner, dict):
                message = inner.get("message") or inner.get("error")
                if isinstance(message, str):
                    spoken.append(message)
                    continue
                fields = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in inner.items() if _plain(v))
                spoken.append(fields)
                continue
        spoken.append(str(value))
    return "Done: " + "; ".join(s for s in spoken if s) + "."


def _plain(value: object) -> bool:
    return isinstance(value, str | int | float) and not isinstance(value, bool)


def openai_conversation(body: dict[str, Any]) -> Conversation:
    """What the model reads from a chat-completions request body."""
    tools = [
        OfferedTool(
            t["function"]["name"], t["function"].get("description", ""), t["function"].get("parameters", {})
        )
        for t in body.get("tools") or []
    ]
    messages = body.get("messages") or []
    results: list[str] = []
    for msg in reversed(messages):
        if msg.get("role") != "tool":
            break
        results.insert(0, str(msg.get("content") or ""))
    said = [str(m.get("content") or "") for m in messages if m.get("role") == "user" and m.get("content")]
    return Conversation(tools, said[-1] if said else "", results, body.get("tool_choice") == "none")
