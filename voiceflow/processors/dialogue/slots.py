"""The slot-filling tasks, and how a slot's value is read from a caller turn.

A value comes from the NLU's entities first; when the policy is waiting for that
very slot it also accepts keypad digits and, for free-text slots (name, purpose,
comment), the caller's words themselves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from voiceflow.processors.dialogue.state import DialogueState, Turn
from voiceflow.processors.nlu.spoken import normalise_for_numbers


@dataclass(frozen=True, slots=True)
class TaskSpec:
    tool: str
    slots: tuple[str, ...]
    confirm: bool = False
    #: tool argument name for each slot, when it differs
    rename: tuple[tuple[str, str], ...] = ()

    def arguments(self, slots: dict[str, Any]) -> dict[str, Any]:
        names = dict(self.rename)
        return {names.get(s, s): slots[s] for s in self.slots if s in slots}


TASKS: dict[str, TaskSpec] = {
    "check_order": TaskSpec("check_order_status", ("order_id",)),
    "track_delivery": TaskSpec("check_order_status", ("order_id",)),
    "schedule_appointment": TaskSpec(
        "schedule_appointment", ("date", "time", "name", "purpose"), confirm=True
    ),
    "cancel_appointment": TaskSpec("cancel_appointment", ("confirmation_number",), confirm=True),
    "reschedule_appointment": TaskSpec(
        "reschedule_appointment",
        ("confirmation_number", "date", "time"),
        confirm=True,
        rename=(("date", "new_date"), ("time", "new_time")),
    ),
    "account_lookup": TaskSpec("look_up_account", ("identifier",)),
    "feedback": TaskSpec("collect_feedback", ("rating", "comment")),
}

#: intents answered at once, without slots (they never disturb a task in progress)
SIDE_INTENTS = frozenset({"business_hours", "help", "small_talk", "greeting", "knowledge_question"})
#: intents that steer the conversation rather than carry content
CONTROL_INTENTS = frozenset({"affirm", "deny", "repeat", "help", "goodbye", "transfer_to_human"})
#: slots a keypad entry can fill, and the entry length that completes each
KEYPAD_SLOTS: dict[str, int | None] = {
    "order_id": 4,
    "confirmation_number": 6,
    "rating": 1,
    "identifier": 10,
    "comment": None,
}

#: which slots a tool error invalidates (the policy clears them and asks again)
ERROR_SLOTS: dict[str, tuple[str, ...]] = {
    "invalid_date": ("date", "time"),
    "past_date": ("date", "time"),
    "too_far_ahead": ("date", "time"),
    "closed_day": ("date", "time"),
    "same_slot": ("date", "time"),
    "invalid_time": ("time",),
    "past_time": ("time",),
    "outside_hours": ("time",),
    "invalid_slot": ("time",),
    "slot_taken": ("time",),
    "order_not_found": ("order_id",),
    "invalid_order_id": ("order_id",),
    "unknown_confirmation_number": ("confirmation_number",),
    "invalid_confirmation_number": ("confirmation_number",),
    "already_cancelled": ("confirmation_number",),
    "account_not_found": ("identifier",),
    "invalid_identifier": ("identifier",),
    "out_of_range": ("rating",),
}
ARGUMENT_SLOTS = {"new_date": "date", "new_time": "time"}

_DEPARTMENT_WORDS: list[tuple[str, str]] = [
    (r"\b(bill|billing|invoice|charge[ds]?|refund|payment|paid|pay)\b", "billing"),
    (
        r"\b(tech|technical|support|not working|broken|error|log ?in|password|set ?up|install)\b",
        "technical_support",
    ),
    (r"\b(sales|buy|purchase|pricing|price|quote|upgrade)\b", "sales"),
    (r"\b(customer service|customer care|service desk)\b", "customer_service"),
]
_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8}
_NAME_LEAD = re.compile(
    r"^(?:(?:yes|yeah|sure|ok(?:ay)?)[,.]?\s+)?(?:my name is|my name's|the name is|name is|it's|it is|"
    r"this is|i'm|i am|under|put it under)\s+",
    re.IGNORECASE,
)
_PURPOSE_LEAD = re.compile(
    r"^(?:it's for|it is for|it's|it is|that's for|for|i need|i want)\s+", re.IGNORECASE
)
_ORDINALS = {"first": 0, "second": 1, "third": 2, "last": -1}


def department_in(text: str) -> str | None:
    for pattern, dept in _DEPARTMENT_WORDS:
        if re.search(pattern, text, re.IGNORECASE):
            return dept
    return None


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _tidy(text: str, lead: re.Pattern[str]) -> str:
    value = lead.sub("", text.strip()).strip(" .!?,")
    return value


def read_slot(slot: str, turn: Turn, state: DialogueState, *, awaited: bool) -> Any:
    """The value of ``slot`` in ``turn``, or None. ``awaited``: the last reply asked for this slot."""
    ents = turn.entities
    text = turn.text.strip()
    keyed = turn.digits
    if slot == "identifier":
        for key in ("email", "phone"):
            if ents.get(key):
                return str(ents[key])
        if m := re.search(r"\b[cC][\s-]*\d{4,}\b", text):
            return m.group(0)
        if awaited and keyed:
            return keyed
        if awaited and (m := re.search(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", text)):
            return m.group(0)
        if awaited and len(_digits(text)) >= 10:
            return _digits(text)
        return None
    if ents.get(slot) not in (None, ""):
        value = ents[slot]
        if slot == "rating":
            return _as_int(value)
        return value
    if not awaited:
        return None
    if keyed is not None:
        if slot not in KEYPAD_SLOTS:
            return None
        if slot == "rating":
            return int(keyed) if keyed.isdigit() else None
        return keyed
    # digits as a recognizer writes them ("1002", "9-3-16") or says them ("one zero zero two")
    numeric = normalise_for_numbers(text)
    if slot == "order_id" and (m := re.search(r"\b\d{3,6}\b", numeric)):
        return m.group(0)
    if slot == "confirmation_number" and len(_digits(numeric)) == 6:
        return "APT-" + _digits(numeric)
    if slot == "rating":
        if m := re.search(r"\b(\d{1,2})\b", text):
            return int(m.group(1))
        for word, n in _NUMBER_WORDS.items():
            if re.search(rf"\b{word}\b", text, re.IGNORECASE):
                return n
        return None
    if slot == "time" and state.suggestions:
        return _pick_suggestion(turn, state)
    free_text_ok = turn.intent not in CONTROL_INTENTS or (slot == "comment" and turn.intent == "deny")
    if slot == "comment":
        return "" if turn.intent == "deny" else (text if free_text_ok else None)
    if slot == "name" and free_text_ok and text:
        return _tidy(text, _NAME_LEAD).title() or None
    if slot == "purpose" and free_text_ok and text:
        return _tidy(text, _PURPOSE_LEAD) or None
    return None


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return _NUMBER_WORDS.get(str(value).strip().lower())


def _pick_suggestion(turn: Turn, state: DialogueState) -> Any:
    """'yes' takes the first offered slot; 'the second one' / 'the last one' pick by position."""
    choice: dict[str, str] | None = None
    if turn.intent == "affirm":
        choice = state.suggestions[0]
    for word, index in _ORDINALS.items():
        if re.search(rf"\b{word}\b", turn.text, re.IGNORECASE) and -len(state.suggestions) <= index < len(
            state.suggestions
        ):
            choice = state.suggestions[index]
    if choice is None:
        return None
    state.slots["date"] = choice["date"]
    return choice["time"]
